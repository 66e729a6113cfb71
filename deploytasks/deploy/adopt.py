"""``deploy.adopt``: claim the legacy deployments this project's configuration wants.

Deployments written by deploytasks before projects existed carry the tool's tag
but no ``project:`` tag. Whose they are cannot be told from the server, so they
are never claimed implicitly: the plan reports each as a conflict naming this
command, and this command claims exactly those whose flow and name this
repository's configuration produces (in the chosen environment and flows), by
adding the project's tag. Nothing else about them changes until the next deploy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.prefect_api import PrefectGateway
from deploytasks.deploy.resolve import select_flows
from deploytasks.deploy.specs import deployment_name
from deploytasks.deployment_settings import KINDS, Kind
from deploytasks.errors import DeployTasksError, UsageError


@dataclass
class AdoptReport:
    """The legacy deployments claimed (or, in a dry run, that would be), and failures."""

    environment: str
    dry_run: bool
    found: list[RemoteDeployment] = field(default_factory=list)
    claimed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def wanted_keys(config: ResolvedConfig, flows: Sequence[str],
                kinds: Sequence[Kind] = KINDS) -> dict[str, str | None]:
    """Deployment name → flow name (None when the flow file does not say) of every
    deployment the repository's flow folders stand for in this environment."""
    from deploytasks.flows.commands import discovery_options
    from deploytasks.flows.discovery import discover

    wanted: dict[str, str | None] = {}
    for flow in select_flows(discover(config.root, discovery_options(config)), flows,
                             config.root):
        try:
            configured = config.flow_settings(flow.folder).kinds
        except DeployTasksError:
            configured = list(KINDS)
        for kind in (k for k in configured if k in kinds):
            wanted[deployment_name(config, flow.folder, kind)] = flow.name
    return wanted


def legacy_matches(remote: list[RemoteDeployment], wanted: dict[str, str | None],
                   config: ResolvedConfig) -> list[RemoteDeployment]:
    """The legacy deployments (tool tag, no project) among ``remote`` that are wanted."""
    owner = ownership(config)
    return sorted((d for d in remote if owner.owner(d.tags) == "legacy" and d.name in wanted
                   and wanted[d.name] in (None, d.flow_name)), key=lambda d: d.name)


async def adopt_with(gateway: PrefectGateway, config: ResolvedConfig,
                     wanted: dict[str, str | None], *, dry_run: bool, yes: bool,
                     confirm: Callable[[str], bool]) -> AdoptReport:
    """Find the wanted legacy deployments and (unless dry) add the project's tag to each."""
    owner = ownership(config)
    remote = await gateway.read_deployments(owner, sorted(wanted))
    report = AdoptReport(config.env.name, dry_run, legacy_matches(remote, wanted, config))
    if dry_run or not report.found:
        return report
    if config.env.protected and not yes and not confirm(
            f"Claim {len(report.found)} deployments of {config.env.name} for project "
            f"'{config.settings.project}'?"):
        raise UsageError("nothing claimed: claiming protected-environment deployments needs "
                         "confirmation", hint="answer 'y', or pass --yes")
    for deployment in report.found:
        try:
            await gateway.set_tags(deployment.id, deployment.name,
                                   [*deployment.tags, owner.project_tag])
            report.claimed.append(deployment.name)
        except DeployTasksError as error:
            report.failed[deployment.name] = error.message
    return report
