"""Compare the specs with what the server holds: create, update, unchanged, orphaned,
conflict — and which fields drifted (were edited on the server since our last apply).

Pure: the server's state comes in as ``RemoteDeployment`` snapshots read once
by the gateway. A plan is what ``test`` shows and the only thing ``apply``
acts on, so the dry run and the real run cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deploytasks.deploy.fields import normal, projected
from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.records import AppliedRecord, kept_changes
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.deploy.triggers import RemoteAutomation
from deploytasks.secrets import mask_env

Action = Literal["create", "update", "unchanged", "orphaned", "conflict"]
WRITES: tuple[Action, ...] = ("create", "update")


@dataclass(frozen=True)
class RemoteSchedule:
    """A schedule on the server: its id, what it compares as (``schedule_items``), whether
    it is active, and its slug."""

    id: str
    item: tuple[Any, ...]
    active: bool
    slug: str | None = None


@dataclass(frozen=True)
class RemoteDeployment:
    """What the server holds for one deployment, in the spec's comparable shape."""

    id: str
    name: str
    flow_name: str
    tags: tuple[str, ...]
    fields: dict[str, Any]
    schedules: tuple[RemoteSchedule, ...] = ()
    status: str | None = None
    automations: tuple[RemoteAutomation, ...] = ()  # ours, made of its triggers

    @property
    def key(self) -> tuple[str, str]:
        return (self.flow_name, self.name)


@dataclass(frozen=True)
class Change:
    """One field that differs: what the server has, what the spec wants."""

    field: str
    old: Any
    new: Any


@dataclass
class PlanItem:
    """What will happen to one deployment, and why."""

    action: Action
    name: str
    flow_name: str
    kind: str | None
    spec: DeploymentSpec | None = None
    remote: RemoteDeployment | None = None
    changes: list[Change] = field(default_factory=list)
    owner: str | None = None  # whose it is, for a conflict ("project 'b'", "hand-made", …)
    drift: list[str] = field(default_factory=list)  # fields edited on the server since us

    @property
    def legacy(self) -> bool:
        """A conflict with a deployment of deploytasks from before projects (adoptable)."""
        return self.action == "conflict" and (self.owner or "").startswith("legacy")

    def to_document(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "flow_name": self.flow_name,
                "type": self.kind,
                "changes": [{"field": c.field, "old": masked(c.field, c.old),
                             "new": masked(c.field, c.new)} for c in self.changes],
                "drift": list(self.drift), "owner": self.owner}


def masked(field: str, value: Any) -> Any:
    """Job variables with their ``env`` values hidden (they may be secrets, old or new)."""
    if field != "job_variables" or not isinstance(value, dict) or \
            not isinstance(value.get("env"), dict):
        return value
    return {**value, "env": mask_env(value["env"])}


@dataclass
class Plan:
    """Every deployment's action for one environment."""

    items: list[PlanItem]

    def of(self, *actions: Action) -> list[PlanItem]:
        return [item for item in self.items if item.action in actions]

    @property
    def writes(self) -> list[PlanItem]:
        return self.of(*WRITES)

    @property
    def drifted(self) -> list[PlanItem]:
        return [item for item in self.items if item.drift]

    def counts(self) -> dict[str, int]:
        counts = {action: 0 for action in ("create", "update", "unchanged", "orphaned",
                                           "conflict")}
        for item in self.items:
            counts[item.action] += 1
        return counts


def make_plan(specs: list[DeploymentSpec], remote: list[RemoteDeployment], *,
              ownership: Ownership, env_tag: str, known_names: set[str] | None = None,
              records: Mapping[str, AppliedRecord] | None = None) -> Plan:
    """Decide each deployment's action.

    Orphans are this project's deployments of this environment whose name no flow
    folder of the repository stands for (``known_names``; None: orphans are not
    looked for). ``records`` (by deployment id) name the fields edited on the
    server since our last apply.
    """
    by_key = {deployment.key: deployment for deployment in remote}
    items = [_item_for(spec, by_key.get(spec.key), ownership, records or {}) for spec in specs]
    if known_names is not None:
        wanted = {spec.key for spec in specs}
        items += [PlanItem("orphaned", d.name, d.flow_name, _kind_of(d), remote=d)
                  for d in remote
                  if d.key not in wanted and d.name not in known_names
                  and ownership.owns(d.tags) and env_tag in d.tags]
    return Plan(items)


def _item_for(spec: DeploymentSpec, current: RemoteDeployment | None, ownership: Ownership,
              records: Mapping[str, AppliedRecord]) -> PlanItem:
    if current is None:
        return PlanItem("create", spec.name, spec.flow_name, spec.kind, spec)
    if not ownership.owns(current.tags):
        return PlanItem("conflict", spec.name, spec.flow_name, spec.kind, spec, current,
                        owner=ownership.describe(current.tags))
    wanted = spec.comparable()
    server = projected(current.fields, wanted)
    record = records.get(current.id)
    held = kept_changes(record, wanted)
    changes = [c for c in diff_fields(server, wanted) if c.field not in held]
    action: Action = "update" if changes else "unchanged"
    drift = [name for name in record.drifted(server, wanted)
             if name not in held] if record and changes else []
    return PlanItem(action, spec.name, spec.flow_name, spec.kind, spec, current, changes,
                    drift=drift)


def diff_fields(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The fields whose values differ, in the spec's field order."""
    return [Change(name, old.get(name), value) for name, value in new.items()
            if normal(old.get(name)) != normal(value)]


def _kind_of(deployment: RemoteDeployment) -> str | None:
    for tag in deployment.tags:
        if tag.startswith("type:"):
            return tag.removeprefix("type:")
    return None
