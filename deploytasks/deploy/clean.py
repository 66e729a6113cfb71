"""Remove managed deployments: by name pattern, environment, or the orphaned ones.

Only deployments carrying the ownership tag are ever candidates; a
deployment someone made by hand is never touched, whatever the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.prefect_api import PrefectGateway
from deploytasks.errors import DeployTasksError


@dataclass
class CleanRequest:
    """Which managed deployments to remove."""

    pattern: str | None = None
    env_short: str | None = None
    orphans: set[tuple[str, str]] | None = None  # keys, when only orphans are wanted


@dataclass
class CleanReport:
    """What was (or, in a dry run, would be) deleted, and what failed."""

    matched: list[RemoteDeployment] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


def select(deployments: list[RemoteDeployment], request: CleanRequest,
           ownership_tag: str) -> list[RemoteDeployment]:
    """The managed deployments the request matches, sorted by name."""
    chosen = []
    for deployment in deployments:
        if not deployment.managed(ownership_tag):
            continue
        if request.pattern and not fnmatchcase(deployment.name, request.pattern):
            continue
        if request.env_short and f"env:{request.env_short}" not in deployment.tags:
            continue
        if request.orphans is not None and deployment.key not in request.orphans:
            continue
        chosen.append(deployment)
    return sorted(chosen, key=lambda d: d.name)


async def read_managed(gateway: PrefectGateway, config: ResolvedConfig) -> list[RemoteDeployment]:
    """Every managed deployment on the server (paged)."""
    return await gateway.read_deployments(config.settings.prefect.ownership_tag, [])


async def delete_all(gateway: PrefectGateway, report: CleanReport) -> None:
    """Delete each matched deployment; one failure does not stop the rest."""
    for deployment in report.matched:
        try:
            await gateway.delete_deployment(deployment.id, deployment.name)
            report.deleted.append(deployment.name)
        except DeployTasksError as error:
            report.failed[deployment.name] = error.message


def protected_envs(config: ResolvedConfig, matched: list[RemoteDeployment]) -> list[str]:
    """Short names of protected environments that the matched deployments belong to."""
    protected = {info.short_name for info in config.settings.environments.values()
                 if info.protected}
    found = {tag.removeprefix("env:") for d in matched for tag in d.tags
             if tag.startswith("env:")}
    return sorted(found & protected)


