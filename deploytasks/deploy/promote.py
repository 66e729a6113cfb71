"""Environment promotion: give the target exactly what the source runs.

The source environment's deployments are read back from the server; each
target spec takes the source's version and, for docker deployments, the
source's exact image reference (content tag or digest). Everything else is
the target environment's own configuration.
"""

from __future__ import annotations

from dataclasses import replace

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.resolve import Resolution, Skipped
from deploytasks.deploy.specs import DeploymentSpec, deployment_name


def promote_specs(target: Resolution, source: ResolvedConfig,
                  remote: list[RemoteDeployment]) -> Resolution:
    """The target's specs pinned to what the source runs; unmatched ones are skipped."""
    running = {(d.flow_name, d.name): d for d in remote
               if f"env:{source.env.short}" in d.tags}
    promoted = Resolution(target.config, target.flows, skipped=list(target.skipped),
                          narrowed=True)
    for spec in target.specs:
        name = deployment_name(source, spec.parts or spec.flow_folder, spec.kind)
        found = running.get((spec.flow_name, name))
        if found is None:
            promoted.skipped.append(Skipped(
                spec.flow_folder, spec.kind, spec.name,
                f"{name} is not deployed in {source.env.name}",
                f"deploy it there first: invoke deploy.all --env {source.env.name}"))
            continue
        promoted.specs.append(pinned(spec, found))
    return promoted


def pinned(spec: DeploymentSpec, source: RemoteDeployment) -> DeploymentSpec:
    """``spec`` with the source deployment's version and (docker) image."""
    version = source.fields.get("version")
    if spec.kind != "docker":
        return replace(spec, version=version)
    image = (source.fields.get("job_variables") or {}).get("image", spec.image)
    return replace(spec, version=version, image=image,
                   job_variables={**spec.job_variables, "image": image})
