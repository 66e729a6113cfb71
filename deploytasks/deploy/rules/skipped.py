"""Rules that leave a flow, or one of its deployments, out of the deploy before its spec is
built: each returns the ``skipped`` finding that says why, and the other flows go on.

A flow is left out when discovery or validation found an error in it, or when its
``@flow`` decorator sets a tag only deploytasks may set; a deployment when its settings
cannot be resolved (``not_resolvable``), or when two flows would get its name.
"""

from __future__ import annotations

from collections.abc import Sequence

from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.errors import DeployTasksError
from deploytasks.findings import Finding
from deploytasks.flows.model import FlowSpec
from deploytasks.settings import is_reserved_tag


def invalid_flow(flow: FlowSpec) -> Finding | None:
    """A flow with an error is left out whole, with its first error."""
    if flow.valid:
        return None
    first = flow.errors[0]
    return Finding.skipped(flow.folder, None, None, f"invalid flow: {first.message}", first.hint)


def reserved_flow_tag(flow: FlowSpec, ownership_tag: str) -> Finding | None:
    """A ``@flow`` tag only deploytasks may set (env:, type:, project:, the ownership tag)."""
    reserved = [tag for tag in flow.tags if is_reserved_tag(tag, ownership_tag)]
    if not reserved:
        return None
    return Finding.skipped(
        flow.folder, None, None,
        f"{flow.path}:{flow.line}: @flow tag '{reserved[0]}' is reserved (deploytasks "
        "sets env:, type:, project: and the ownership tag itself)",
        "remove it from the @flow decorator's tags")


def not_resolvable(flow: FlowSpec, kind: str | None, name: str | None,
                   error: DeployTasksError) -> Finding:
    """A flow (``kind`` None) or deployment whose settings or inputs cannot be resolved."""
    if kind is None:
        return Finding.skipped(flow.folder, None, None, str(error))
    return Finding.skipped(flow.folder, kind, name, error.message, error.hint)


def shared_names(specs: Sequence[DeploymentSpec]) -> list[Finding]:
    """Two flows that would get one deployment name: both are left out, naming each other."""
    by_name: dict[str, list[DeploymentSpec]] = {}
    for spec in specs:
        by_name.setdefault(spec.name, []).append(spec)
    findings = []
    for name, same in by_name.items():
        if len({spec.entrypoint + "|" + spec.flow_folder for spec in same}) < 2:
            continue
        for spec in same:
            others = ", ".join(f"{o.entrypoint} (flow key {o.flow_folder})"
                               for o in same if o is not spec)
            findings.append(Finding.skipped(
                spec.flow_folder, spec.kind, name,
                f"deployment name {name!r} is also the name of {others}",
                "give them different keys, or put {function} in naming.deployment"))
    return findings
