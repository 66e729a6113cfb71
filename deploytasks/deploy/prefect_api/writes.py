"""Deployment writes: create, update, delete, claim — and undoing a create that took over.

Create and update arguments come from the table of fields (``fields.payload``),
so a new field is sent without a line here; schedules are the one field synced
on their own (``schedules.py``). Prefect's create is an upsert: the answer's
status (``hooks.CreateAnswers``) and the server's update event tell whether it
overwrote a row that existed, and what that row held (``deploy/takeover.py``
judges; this module reads and restores).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from prefect.client.schemas.actions import DeploymentUpdate

from deploytasks.deploy import fields
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.prefect_api.connection import Connection
from deploytasks.deploy.prefect_api.schedules import (
    drop_schedules,
    schedule_creates,
    sync_schedules,
)
from deploytasks.deploy.specs import DeploymentSpec


class DeploymentWrites(Connection):
    """The gateway's deployment writes."""

    async def ensure_flow(self, flow_name: str) -> Any:
        """The flow's id, creating the flow if the server does not know it yet."""
        return await self.call(f"register flow {flow_name}",
                               self.client.create_flow_from_name, flow_name)

    async def create_deployment(self, spec: DeploymentSpec, flow_id: Any,
                                version_info: dict[str, Any] | None = None) -> str:
        """Create one deployment (schedules included) and return its id. Prefect upserts:
        ``took_over(id)`` tells afterwards whether the create hit an existing row.
        ``version_info`` (Prefect's shape) goes along with the version."""
        deployment_id = await self.call(
            f"create {spec.name}", self.client.create_deployment,
            flow_id=flow_id, name=spec.name, schedules=schedule_creates(spec.schedules),
            version_info=_version_info(version_info), **fields.payload(spec))
        return str(deployment_id)

    async def update_deployment(self, remote: RemoteDeployment, spec: DeploymentSpec,
                                changed: set[str],
                                version_info: dict[str, Any] | None = None) -> None:
        """Send only the changed fields (a new version with its version info); schedules
        are synced one by one."""
        values = fields.payload(spec, changed)
        if "version" in values and version_info is not None:
            values["version_info"] = version_info
        if values:
            await self.call(f"update {spec.name}", self.client.update_deployment,
                            UUID(remote.id), DeploymentUpdate(**values))
        if fields.SCHEDULES.name in changed:
            await sync_schedules(self, remote, spec)

    async def delete_deployment(self, deployment_id: str, name: str) -> None:
        """Delete one deployment (callers check ownership first)."""
        await self.call(f"delete {name}", self.client.delete_deployment, UUID(deployment_id))

    async def set_tags(self, deployment_id: str, name: str, tags: list[str]) -> None:
        """Replace one deployment's tags, nothing else (``deploy.adopt``)."""
        await self.call(f"claim {name}", self.client.update_deployment, UUID(deployment_id),
                        DeploymentUpdate(tags=tags))

    # A create that took over an existing deployment -----------------------------------

    def took_over(self, deployment_id: str) -> str | None:
        """When our create upserted onto a row that existed before it: that row's ``updated``
        time as the server wrote it (or "" when it did not say); None for a new row."""
        status, updated = self.creates.answers.get(deployment_id, (201, None))
        return (updated or "") if status == 200 else None

    async def read_upsert_event(self, deployment_id: str,
                                since: str | None) -> dict[str, Any] | None:
        """The server's ``prefect.deployment.updated`` event of our upsert (its payload has
        from/to values per changed field); None while there is none (the server persists
        events every few seconds, and emits none when the upsert changed no field)."""
        from prefect.events.filters import (
            EventFilter,
            EventNameFilter,
            EventOccurredFilter,
            EventOrder,
            EventResourceFilter,
        )

        start = _server_time(since) - timedelta(seconds=1)
        wanted = EventFilter(
            occurred=EventOccurredFilter.model_validate(
                {"since": start, "until": start + timedelta(days=1)}),
            event=EventNameFilter(name=["prefect.deployment.updated"]),
            resource=EventResourceFilter(id=[f"prefect.deployment.{deployment_id}"]),
            order=EventOrder.ASC)
        page = await self.call("read events", self.client.read_events, filter=wanted, limit=5)
        return dict(page.events[0].payload) if page.events else None

    async def restore_deployment(self, deployment_id: str, name: str,
                                 values: dict[str, Any]) -> None:
        """Put fields of a deployment we took over back, and drop the schedules we gave it."""
        if values:
            await self.call(f"restore {name}", self.client.update_deployment,
                            UUID(deployment_id), DeploymentUpdate(**values))
        await drop_schedules(self, deployment_id, name)

    async def work_queue_of(self, queue_id: str) -> tuple[str | None, str]:
        """A work queue's pool and name, by id."""
        queue = await self.call("read work queue", self.client.read_work_queue, UUID(queue_id))
        return queue.work_pool_name, queue.name


def _version_info(info: dict[str, Any] | None) -> Any:
    """Prefect's ``VersionInfo`` (its extra keys kept) of our plain version info."""
    from prefect.client.schemas.objects import VersionInfo

    return VersionInfo.model_validate(info) if info is not None else None


def _server_time(text: str | None) -> datetime:
    """A timestamp the server wrote (ISO 8601, perhaps with 'Z'); without one, ten minutes
    ago by our clock (an event filter starting there still finds the event)."""
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(timezone.utc) - timedelta(minutes=10)
