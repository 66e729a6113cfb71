"""Schedules, the one deployment field the gateway sends and reads on its own.

Every other field (``fields.py``) goes into the create and update payloads as one
value. Schedules are objects of their own on the server, each with an id and an
active (paused) state a person may have set in the UI: a create sends them along,
but an update keeps them in step one by one — adding the missing, removing the
dropped, leaving a matching one (and its paused state) alone. A schedule with a
``slug`` is that slug: when its value, parameters or anchor change it is updated in
place (same id, same paused state). One without a slug is its whole item
(``schedule_items``: kind, value, timezone and extras), whatever its state: a change
replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.responses import DeploymentResponse
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule

from deploytasks.deploy.plan import RemoteDeployment, RemoteSchedule
from deploytasks.deploy.prefect_api.connection import Connection
from deploytasks.deploy.schedule_items import Item, item_of, project
from deploytasks.deploy.specs import DeploymentSpec, Schedule


def to_prefect_schedule(schedule: Schedule) -> CronSchedule | IntervalSchedule | RRuleSchedule:
    """Our schedule as Prefect's schedule object (which validates cron and timezone)."""
    tz = schedule.timezone
    if schedule.kind == "cron":
        return CronSchedule(cron=str(schedule.value), timezone=tz, day_or=schedule.day_or)
    if schedule.kind == "interval":
        every = timedelta(seconds=float(schedule.value))
        if schedule.anchor_date is None:
            return IntervalSchedule(interval=every, timezone=tz)
        return IntervalSchedule(interval=every, timezone=tz,
                                anchor_date=datetime.fromisoformat(schedule.anchor_date))
    return RRuleSchedule(rrule=str(schedule.value), timezone=tz)


def schedule_creates(schedules: tuple[Schedule, ...]) -> list[DeploymentScheduleCreate]:
    """Our schedules as a create sends them."""
    return [DeploymentScheduleCreate(schedule=to_prefect_schedule(s), active=s.active,
                                     parameters=dict(s.parameters), slug=s.slug)
            for s in schedules]


def remote_schedules(deployment: DeploymentResponse) -> tuple[RemoteSchedule, ...]:
    """A server deployment's schedules: id, item, whether each is active, slug."""
    return tuple(RemoteSchedule(str(s.id), _item(s), bool(s.active), s.slug)
                 for s in deployment.schedules)


async def sync_schedules(connection: Connection, remote: RemoteDeployment,
                         spec: DeploymentSpec) -> None:
    """Update schedules whose slug stays, drop removed ones, add missing ones; leave
    matching ones (and their paused state, perhaps set in the UI) alone."""
    client = connection.client
    plan = _sync_plan(remote.schedules, spec.schedules)
    for schedule_id, schedule in plan.updates:
        await connection.call(f"update schedule '{schedule.slug}' of {spec.name}",
                              client.update_deployment_schedule, UUID(remote.id),
                              UUID(schedule_id), schedule=to_prefect_schedule(schedule),
                              parameters=dict(schedule.parameters))
    for schedule_id in plan.deletes:
        await connection.call(f"remove a schedule of {spec.name}",
                              client.delete_deployment_schedule, UUID(remote.id),
                              UUID(schedule_id))
    if plan.creates:
        await connection.call(f"add schedules to {spec.name}",
                              client.create_deployment_schedules, UUID(remote.id),
                              schedule_creates(plan.creates))


@dataclass
class SyncPlan:
    """What one update does to a deployment's schedules."""

    updates: list[tuple[str, Schedule]] = field(default_factory=list)  # (id, new value)
    deletes: list[str] = field(default_factory=list)
    creates: tuple[Schedule, ...] = ()


def _sync_plan(have: tuple[RemoteSchedule, ...], wanted: tuple[Schedule, ...]) -> SyncPlan:
    """By slug where the configuration gives one, else by the whole item (anchor dates
    the configuration does not give left aside)."""
    plan = SyncPlan()
    by_slug = {s.slug: s for s in have if s.slug}
    wanted_items = [s.compared() for s in wanted]
    unslugged: dict[Item, RemoteSchedule] = {}
    for current in have:
        if not current.slug:
            unslugged.setdefault(project([current.item], wanted_items)[0], current)
    creates: list[Schedule] = []
    kept: set[str] = set()
    for schedule in wanted:
        if schedule.slug and schedule.slug in by_slug:
            current = by_slug[schedule.slug]
            kept.add(current.id)
            mine = project([current.item], [schedule.compared()])
            if mine != [schedule.compared()]:
                plan.updates.append((current.id, schedule))
        elif not schedule.slug and schedule.compared() in unslugged:
            kept.add(unslugged.pop(schedule.compared()).id)
        else:
            creates.append(schedule)
    plan.deletes = [s.id for s in have if s.id not in kept]
    plan.creates = tuple(creates)
    return plan


async def drop_schedules(connection: Connection, deployment_id: str, name: str) -> None:
    """Remove every schedule of a deployment (the ones our create gave someone else's)."""
    client = connection.client
    schedules = await connection.call(f"read schedules of {name}",
                                      client.read_deployment_schedules, UUID(deployment_id))
    for schedule in schedules:
        await connection.call(f"remove our schedule from {name}",
                              client.delete_deployment_schedule, UUID(deployment_id),
                              schedule.id)


def _item(deployment_schedule: Any) -> Item:
    """A server schedule's item, its parameters, slug, anchor and ``day_or`` included."""
    schedule = deployment_schedule.schedule
    extras: dict[str, Any] = {"parameters": dict(deployment_schedule.parameters or {}),
                              "slug": deployment_schedule.slug}
    if isinstance(schedule, CronSchedule):
        return item_of("cron", schedule.cron, schedule.timezone,
                       {**extras, "day_or": schedule.day_or})
    if isinstance(schedule, IntervalSchedule):
        anchor = schedule.anchor_date.astimezone(timezone.utc).isoformat()
        return item_of("interval", str(float(schedule.interval.total_seconds())),
                       schedule.timezone, {**extras, "anchor_date": anchor})
    if isinstance(schedule, RRuleSchedule):
        return item_of("rrule", _without_default_start(schedule.rrule), schedule.timezone,
                       extras)
    return ("other", repr(schedule), None)


def _without_default_start(rrule: str) -> str:
    """The rrule as configured: the server prepends Prefect's default start to one without."""
    from prefect.client.schemas.schedules import DEFAULT_ANCHOR_DATE

    default = f"DTSTART:{DEFAULT_ANCHOR_DATE.strftime('%Y%m%d')}T000000\n"
    return rrule.removeprefix(default)
