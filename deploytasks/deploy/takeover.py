"""Undo a create that took over a deployment which appeared after our plan was read.

Prefect's ``POST /deployments/`` is an upsert on (flow, name) and cannot be made
conditional. We re-read the name just before each create, but a deployment made
by hand (or by another project) in the moment between that read and our create
is overwritten. The server tells us: it answers 200 instead of 201, and emits a
``prefect.deployment.updated`` event whose payload holds, per changed field, the
value before and after. From that payload this module decides whose the row
was, which fields can be put back through a deployment update, and what cannot
be restored (the upsert replaced the schedules and removed their scheduled runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploytasks.deploy import fields
from deploytasks.deploy.ownership import Ownership, without_reserved
from deploytasks.deploy.specs import DeploymentSpec

# Fields of the server's event → the deployment-update field that restores them: our
# fields an update can put back (``fields.py``), and columns no spec sets that the
# upsert may still have changed.
RESTORABLE = {**fields.restorable(), "path": "path", "paused": "paused"}
IGNORED = {"labels"}  # recomputed by the server from the others


@dataclass
class Takeover:
    """What our upsert did to a deployment that existed before it."""

    previous_owner: str
    was_ours: bool
    values: dict[str, Any] = field(default_factory=dict)  # deployment-update fields to restore
    queue_id: str | None = None  # the work queue (and so pool) to put back, when it changed
    lost: list[str] = field(default_factory=list)  # what cannot be restored


def judge(payload: dict[str, Any] | None, spec: DeploymentSpec,
          ownership: Ownership) -> Takeover:
    """Read the server's update event (None: no field changed, or no event was recorded)."""
    updates: dict[str, Any] = dict((payload or {}).get("updates") or {})
    if payload is None:
        # No event: either nothing changed (the row was identical to ours, our tags
        # included, so ours: a concurrent run of this project), or the server records no
        # events. The caller tells these apart with our own record of the deployment.
        return Takeover("unknown", False, lost=_always_lost(spec, {}))
    before_tags = updates["tags"]["from"] if "tags" in updates else list(spec.tags)
    before_tags = [str(t) for t in before_tags or []]
    takeover = Takeover(ownership.describe(before_tags), ownership.owns(before_tags),
                        lost=_always_lost(spec, updates))
    for name, change in updates.items():
        if name in RESTORABLE:
            takeover.values[RESTORABLE[name]] = change.get("from")
        elif name == "work_queue_id":
            takeover.queue_id = change.get("from")
            if takeover.queue_id is None:
                takeover.lost.append("its work queue (it had none)")
        elif name not in IGNORED and name != "concurrency_limit_id":
            takeover.lost.append(name)
    return takeover


def strip_our_tags(spec: DeploymentSpec, ownership: Ownership) -> dict[str, Any]:
    """When the previous values are unknown: at least make it not ours any more."""
    return {"tags": without_reserved(spec.tags, ownership)}


def _always_lost(spec: DeploymentSpec, updates: dict[str, Any]) -> list[str]:
    lost = ["its schedules and their scheduled runs (the create replaced them; ours were "
            "removed)"]
    if spec.concurrency_limit is not None or "concurrency_limit_id" in updates:
        lost.append("its concurrency limit")
    return lost
