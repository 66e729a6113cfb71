"""Environment promotion: give the target exactly what the source runs.

The source environment's deployments (this project's only) are read back from
the server; each target spec takes the source's version, parameters,
entrypoint and parameter schema and, for docker deployments, the source's exact
image reference (content tag or digest). Everything else (pools, schedules,
resources) is the target environment's own configuration.

A python deployment runs the code of the checkout it was deployed from, so it
is promoted only when this checkout is exactly the commit the source was
deployed from (recorded on the server with the deployment) and has no
uncommitted changes; otherwise it is skipped, saying why.
"""

from __future__ import annotations

from dataclasses import replace

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import fields
from deploytasks.deploy.containers import image_of
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.records import AppliedRecord, SourceState
from deploytasks.deploy.resolve import Resolution
from deploytasks.deploy.specs import DeploymentSpec, deployment_name
from deploytasks.findings import Finding


def promote_specs(target: Resolution, source: ResolvedConfig, remote: list[RemoteDeployment],
                  records: dict[str, AppliedRecord], here: SourceState) -> Resolution:
    """The target's specs pinned to what the source runs; the others are skipped."""
    owner = ownership(source)
    running = {(d.flow_name, d.name): d for d in remote
               if owner.owns(d.tags) and f"env:{source.env.short}" in d.tags}
    promoted = Resolution(target.config, target.flows, skipped=list(target.skipped),
                          narrowed=True, warnings=list(target.warnings))
    for spec in target.specs:
        name = deployment_name(source, spec.parts or spec.flow_folder, spec.kind)
        found = running.get((spec.flow_name, name))
        why = _not_promotable(spec, found, records, here, source, name)
        if why is not None:
            promoted.skipped.append(Finding.skipped(spec.flow_folder, spec.kind, spec.name, *why))
            continue
        assert found is not None
        promoted.specs.append(pinned(spec, found))
    return promoted


def _not_promotable(spec: DeploymentSpec, found: RemoteDeployment | None,
                    records: dict[str, AppliedRecord], here: SourceState,
                    source: ResolvedConfig, name: str) -> tuple[str, str] | None:
    """Why ``spec`` cannot be promoted from ``found`` (reason, hint); None when it can."""
    env = source.env.name
    if found is None:
        return (f"{name} is not deployed in {env}",
                f"deploy it there first: invoke deploy.all --env {env}")
    if spec.kind == "docker":
        return None  # the image digest carries the code
    record = records.get(found.id)
    commit = record.source.commit if record else None
    if record is None or commit is None:
        return (f"the git commit {name} was deployed from is not recorded on the server",
                f"deploy {env} again from a clean checkout (invoke deploy.python --env {env}), "
                "then promote")
    if record.source.dirty:
        return (f"{name} was deployed from a checkout with uncommitted changes at "
                f"{commit[:12]}; that code cannot be promoted exactly",
                f"deploy {env} again from a clean checkout, then promote")
    if here.commit != commit:
        return (f"this checkout is at {(here.commit or 'no commit')[:12]}, but {name} runs "
                f"{commit[:12]}; python deployments run this checkout's code",
                f"check out {commit[:12]} (git checkout {commit}) and promote again")
    if here.dirty:
        return ("this checkout has uncommitted changes; python deployments run this "
                "checkout's code", "commit or stash them, then promote again")
    return None


def pinned(spec: DeploymentSpec, source: RemoteDeployment) -> DeploymentSpec:
    """``spec`` running what ``source`` runs: the fields the table pins (``fields.py``: its
    version, parameters, entrypoint and parameter schema), and for a container deployment its
    exact image, whatever pool types the two environments use (staging on docker, production
    on kubernetes: ``image`` is the variable of both)."""
    spec = replace(spec, **fields.pinned(spec, source.fields))
    if spec.kind != "docker":
        return spec
    image = image_of(source.fields.get("job_variables") or {}) or spec.image
    return replace(spec, image=image, job_variables={**spec.job_variables, "image": image})
