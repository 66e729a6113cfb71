"""Read an environment's deployments back as the Prefect UI shows them (``deploy.check``).

Reads every expected deployment back from the API the UI uses and compares
what a person would look at: name, description, tags, parameters, work pool
(that it exists, with the configured type), the image a container deployment runs,
schedule state and status. Also checks that the UI itself answers, and gives each
deployment's link and the commit, branch and remote it was last deployed from (its
drift record: a self-hosted server drops version info).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deploytasks.deploy import fields
from deploytasks.deploy.containers import image_of
from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.records import AppliedRecord
from deploytasks.deploy.specs import DeploymentSpec

SHOWN_FIELDS = fields.shown()  # description, parameters, work pool and queue


@dataclass
class DeploymentCheck:
    """One expected deployment as found on the server."""

    name: str
    found: bool
    link: str | None = None
    mismatches: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: dict[str, Any] | None = None  # the version info it was last deployed with

    @property
    def ok(self) -> bool:
        return self.found and not self.mismatches

    def to_document(self) -> dict[str, Any]:
        return {"name": self.name, "found": self.found, "ok": self.ok, "link": self.link,
                "mismatches": self.mismatches, "warnings": self.warnings,
                "version_info": self.source}

    @property
    def deployed_from(self) -> str | None:
        """One line: the commit, branch and remote it was deployed from."""
        info = self.source
        if not info or not info.get("commit_sha"):
            return None
        where = f" on {info['branch']}" if info.get("branch") else ""
        remote = f" ({info['url']})" if info.get("url") else ""
        dirty = " with uncommitted changes" if info.get("dirty") else ""
        return f"deployed from {info['commit_sha'][:12]}{where}{remote}{dirty}"


def version_info_of(spec: DeploymentSpec, record: AppliedRecord | None) -> dict[str, Any] | None:
    """What the deployment was last deployed from, as Prefect's version info shapes it
    (from our record: a self-hosted server does not keep the version info it is sent)."""
    if record is None or record.source.commit is None:
        return None
    return {**record.source.version_info(spec.version), "commit_sha": record.source.commit,
            "dirty": record.source.dirty}


def check_deployment(spec: DeploymentSpec, remote: RemoteDeployment | None, owner: Ownership,
                     *, ui: str, pools: Mapping[str, str], polled_pools: set[str],
                     pool_type: str | None = None,
                     record: AppliedRecord | None = None) -> DeploymentCheck:
    """Compare one spec with the server's deployment of the same flow and name (which must be
    this project's: another project's or a hand-made one is not ours to vouch for).

    ``pools`` maps the server's pool names to their types; ``pool_type`` is the type the
    configuration wants for the spec's pool (a kubernetes deployment on a docker pool
    would run, but not as configured)."""
    if remote is None:
        return DeploymentCheck(spec.name, False, mismatches=["not found on the server"])
    if not owner.owns(remote.tags):
        return DeploymentCheck(spec.name, False, mismatches=[
            f"not this project's: a {owner.describe(remote.tags)} deployment holds the name"])
    check = DeploymentCheck(spec.name, True, f"{ui}/deployments/deployment/{remote.id}",
                            source=version_info_of(spec, record))
    wanted = spec.comparable()
    for name in SHOWN_FIELDS:
        if remote.fields.get(name) != wanted[name]:
            check.mismatches.append(f"{name} is {remote.fields.get(name)!r}, "
                                    f"expected {wanted[name]!r}")
    missing_tags = set(spec.tags) - set(remote.tags)
    if missing_tags:
        check.mismatches.append(f"tags lack {', '.join(sorted(missing_tags))}")
    check.mismatches += _container_mismatches(spec, remote)
    if spec.work_pool not in pools:
        check.mismatches.append(f"work pool '{spec.work_pool}' does not exist")
    elif pool_type and pools[spec.work_pool] != pool_type:
        check.mismatches.append(f"work pool '{spec.work_pool}' is of type "
                                f"'{pools[spec.work_pool]}', expected '{pool_type}'")
    elif spec.work_pool not in polled_pools:
        check.warnings.append(f"no worker polls '{spec.work_pool}': runs will wait "
                              f"(start one: prefect worker start --pool {spec.work_pool})")
    if remote.fields.get("paused") and not spec.paused:
        check.warnings.append("the deployment is paused (its runs are not scheduled); "
                              "resume it in the UI, or set paused: false and deploy")
    paused = [s for s in remote.schedules if not s.active]
    if paused:
        check.warnings.append(f"{len(paused)} of {len(remote.schedules)} schedules paused")
    if len(remote.schedules) != len(spec.schedules):
        check.mismatches.append(f"{len(remote.schedules)} schedules, expected "
                                f"{len(spec.schedules)}")
    return check


def _container_mismatches(spec: DeploymentSpec, remote: RemoteDeployment) -> list[str]:
    """A container deployment runs the image its job variables name, on every pool type."""
    if spec.kind != "docker":
        return []
    running = image_of(remote.fields.get("job_variables") or {})
    wanted = image_of(spec.job_variables)
    return [] if running == wanted else [f"image is {running!r}, expected {wanted!r}"]
