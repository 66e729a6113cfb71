"""Reading deployments back: this project's, or one by name, as ``RemoteDeployment`` snapshots.

A snapshot holds a server deployment's fields in the shape the spec compares
(``fields.py`` says how each is read from Prefect's ``DeploymentResponse``), so
the plan, the drift records, ``deploy.check`` and ``env.promote`` all read one
shape. Reads are paged; flow names come from one more paged read of the flows.
"""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    DeploymentFilterTags,
    FlowFilter,
    FlowFilterId,
    FlowFilterName,
)
from prefect.client.schemas.responses import DeploymentResponse

from deploytasks.deploy import fields
from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.prefect_api.automations import DeploymentAutomations
from deploytasks.deploy.prefect_api.schedules import remote_schedules
from deploytasks.deploy.triggers import RemoteAutomation, key_of

PAGE = 200


class DeploymentReads(DeploymentAutomations):
    """The gateway's deployment reads."""

    async def read_deployments(self, ownership: Ownership,
                               names: list[str]) -> list[RemoteDeployment]:
        """This project's deployments (a server-side tag filter), plus any deployment named
        like one we want, whoever it belongs to (conflicts)."""
        tagged = await self._read_all(DeploymentFilter(
            tags=DeploymentFilterTags(all_=list(ownership.tags))))
        named = await self._read_all(DeploymentFilter(
            name=DeploymentFilterName(any_=names))) if names else []
        unique = {str(d.id): d for d in [*tagged, *named]}
        flow_names = await self._flow_names({d.flow_id for d in unique.values()})
        automations = await self.read_automations(ownership.tags) if unique else {}
        return [with_automations(snapshot(d, flow_names.get(str(d.flow_id), "?")),
                                 automations.get(str(d.id), [])) for d in unique.values()]

    async def read_deployment_named(self, flow_name: str, name: str,
                                    ownership: Ownership) -> RemoteDeployment | None:
        """One deployment by flow and name, as it is now, with our automations of it (None:
        there is none)."""
        found = await self._read_all(DeploymentFilter(name=DeploymentFilterName(any_=[name])),
                                     FlowFilter(name=FlowFilterName(any_=[flow_name])))
        if not found:
            return None
        automations = await self.read_automations(ownership.tags)
        return with_automations(snapshot(found[0], flow_name),
                                automations.get(str(found[0].id), []))

    async def _read_all(self, deployment_filter: DeploymentFilter,
                        flow_filter: FlowFilter | None = None) -> list[DeploymentResponse]:
        found: list[DeploymentResponse] = []
        while True:
            page = await self.call("read deployments", self.client.read_deployments,
                                   deployment_filter=deployment_filter, flow_filter=flow_filter,
                                   limit=PAGE, offset=len(found))
            found.extend(page)
            if len(page) < PAGE:
                return found

    async def _flow_names(self, ids: set[Any]) -> dict[str, str]:
        names: dict[str, str] = {}
        ordered = sorted(ids, key=str)
        for start in range(0, len(ordered), PAGE):
            chunk = ordered[start:start + PAGE]
            flows = await self.call("read flows", self.client.read_flows,
                                    flow_filter=FlowFilter(id=FlowFilterId(any_=chunk)),
                                    limit=PAGE)
            names.update({str(f.id): f.name for f in flows})
        return names


def snapshot(deployment: DeploymentResponse, flow_name: str) -> RemoteDeployment:
    """A server deployment in the spec's comparable shape."""
    schedules = remote_schedules(deployment)
    values = {**fields.snapshot_fields(deployment),
              fields.SCHEDULES.name: sorted(s.item for s in schedules),
              fields.TRIGGERS.name: []}  # ours are read apart (``with_automations``)
    status = deployment.status.value if deployment.status else None
    return RemoteDeployment(str(deployment.id), deployment.name, flow_name,
                            tuple(deployment.tags), values, schedules, status)


def with_automations(remote: RemoteDeployment,
                     automations: list[RemoteAutomation]) -> RemoteDeployment:
    """A snapshot with our automations of it, its triggers compared as the spec's are."""
    from dataclasses import replace

    keys = sorted(key_of(a.name, a.hash) for a in automations)
    return replace(remote, fields={**remote.fields, fields.TRIGGERS.name: keys},
                   automations=tuple(sorted(automations, key=lambda a: a.name)))
