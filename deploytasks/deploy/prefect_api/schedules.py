"""Schedules, the one deployment field the gateway sends and reads on its own.

Every other field (``fields.py``) goes into the create and update payloads as one
value. Schedules are objects of their own on the server, each with an id and an
active (paused) state a person may have set in the UI: a create sends them along,
but an update keeps them in step one by one — adding the missing, removing the
dropped, leaving a matching one (and its paused state) alone. Two schedules are
the same schedule by ``identity`` (kind, value, timezone), whatever their state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.responses import DeploymentResponse
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule

from deploytasks.deploy.plan import RemoteDeployment, RemoteSchedule
from deploytasks.deploy.prefect_api.connection import Connection
from deploytasks.deploy.specs import DeploymentSpec, Schedule


def to_prefect_schedule(schedule: Schedule) -> CronSchedule | IntervalSchedule | RRuleSchedule:
    """Our schedule as Prefect's schedule object (which validates cron and timezone)."""
    tz = schedule.timezone
    if schedule.kind == "cron":
        return CronSchedule(cron=str(schedule.value), timezone=tz)
    if schedule.kind == "interval":
        return IntervalSchedule(interval=timedelta(seconds=float(schedule.value)), timezone=tz)
    return RRuleSchedule(rrule=str(schedule.value), timezone=tz)


def schedule_creates(schedules: tuple[Schedule, ...]) -> list[DeploymentScheduleCreate]:
    """Our schedules as a create sends them."""
    return [DeploymentScheduleCreate(schedule=to_prefect_schedule(s), active=s.active)
            for s in schedules]


def remote_schedules(deployment: DeploymentResponse) -> tuple[RemoteSchedule, ...]:
    """A server deployment's schedules: id, identity and whether each is active."""
    return tuple(RemoteSchedule(str(s.id), _identity(s.schedule), bool(s.active))
                 for s in deployment.schedules)


async def sync_schedules(connection: Connection, remote: RemoteDeployment,
                         spec: DeploymentSpec) -> None:
    """Add missing schedules, drop removed ones, leave matching ones (and their paused
    state, perhaps set in the UI) alone."""
    client = connection.client
    wanted = {s.identity(): s for s in spec.schedules}
    have = {s.identity: s for s in remote.schedules}
    for identity, schedule in have.items():
        if identity not in wanted:
            await connection.call(f"remove a schedule of {spec.name}",
                                  client.delete_deployment_schedule, UUID(remote.id),
                                  UUID(schedule.id))
    new = schedule_creates(tuple(s for i, s in wanted.items() if i not in have))
    if new:
        await connection.call(f"add schedules to {spec.name}",
                              client.create_deployment_schedules, UUID(remote.id), new)


async def drop_schedules(connection: Connection, deployment_id: str, name: str) -> None:
    """Remove every schedule of a deployment (the ones our create gave someone else's)."""
    client = connection.client
    schedules = await connection.call(f"read schedules of {name}",
                                      client.read_deployment_schedules, UUID(deployment_id))
    for schedule in schedules:
        await connection.call(f"remove our schedule from {name}",
                              client.delete_deployment_schedule, UUID(deployment_id),
                              schedule.id)


def _identity(schedule: Any) -> tuple[str, str, str | None]:
    if isinstance(schedule, CronSchedule):
        return ("cron", schedule.cron, schedule.timezone)
    if isinstance(schedule, IntervalSchedule):
        return ("interval", str(float(schedule.interval.total_seconds())), schedule.timezone)
    if isinstance(schedule, RRuleSchedule):
        return ("rrule", _without_default_start(schedule.rrule), schedule.timezone)
    return ("other", repr(schedule), None)


def _without_default_start(rrule: str) -> str:
    """The rrule as configured: the server prepends Prefect's default start to one without."""
    from prefect.client.schemas.schedules import DEFAULT_ANCHOR_DATE

    default = f"DTSTART:{DEFAULT_ANCHOR_DATE.strftime('%Y%m%d')}T000000\n"
    return rrule.removeprefix(default)
