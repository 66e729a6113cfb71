"""The Python API for custom deployment scripts (the guide's "Advanced Usage").

    from deploytasks.api import DeploymentAPI
    api = DeploymentAPI()
    deployment = api.create_deployment(flow_name="rpa1", environment="production",
                                       custom_parameters={"batch_size": 1000})
    api.deploy(deployment)

The same service as the Invoke tasks (``deploytasks/service/``): specs are
resolved and checked the same way, and ``deploy`` sends only what differs from
the server. Nothing here prints; results are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deploytasks.config import ConfigurationManager, ResolvedConfig
from deploytasks.deploy.apply import Outcome
from deploytasks.deploy.clean import CleanReport
from deploytasks.deploy.plan import Plan
from deploytasks.deploy.resolve import resolve
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.deployment_settings import KINDS, Kind
from deploytasks.errors import ConfigError, WorkFailed
from deploytasks.flows.commands import discovery_options
from deploytasks.flows.discovery import FlowSpec, discover
from deploytasks.service import cleaning, deploying
from deploytasks.service.selection import check_specs, image_lookup
from deploytasks.service.state import read_plan

__all__ = ["ConfigurationManager", "DeploymentAPI", "DeploymentSpec"]


class DeploymentAPI:
    """Discover, create, plan, deploy and clean deployments from Python."""

    def __init__(self, config: ConfigurationManager | None = None) -> None:
        self.config = config or ConfigurationManager()

    def load(self, environment: str | None = None) -> ResolvedConfig:
        """The merged configuration of an environment."""
        return self.config.load(environment, profile=True)

    def discover(self) -> list[FlowSpec]:
        """Every flow folder, read from source (never imported)."""
        config = self.load()
        return discover(config.root, discovery_options(config))

    def create_deployment(self, flow_name: str, environment: str = "development",
                          kind: Kind = "python",
                          custom_parameters: dict[str, Any] | None = None) -> DeploymentSpec:
        """The checked spec of one deployment; raises ``ConfigError`` naming each problem."""
        config = self.load(environment)
        resolution = resolve(config, (kind,), (flow_name,), parameters=custom_parameters,
                             image_for=image_lookup((kind,), verify=True))
        if resolution.skipped:
            raise ConfigError(resolution.skipped[0].reason, hint=resolution.skipped[0].hint)
        spec = resolution.specs[0]
        problems = check_specs(resolution)
        if problems:
            raise ConfigError("; ".join(str(p) for p in problems))
        return spec

    def plan(self, environment: str = "development", kinds: Sequence[Kind] = KINDS,
             flows: Sequence[str] = ()) -> Plan:
        """What a deploy would do; writes nothing."""
        resolution = resolve(self.load(environment), kinds, flows,
                             image_for=image_lookup(kinds))
        return read_plan(resolution, list(kinds))

    def deploy(self, deployment: DeploymentSpec | Sequence[DeploymentSpec]) -> list[Outcome]:
        """Create or update the given specs; raises ``WorkFailed`` if any failed."""
        specs = [deployment] if isinstance(deployment, DeploymentSpec) else list(deployment)
        if not specs:
            return []
        report = deploying.deploy_specs(self.load(specs[0].environment), specs)
        if report.failed:
            raise WorkFailed("; ".join(f"{o.name}: {o.message}" for o in report.failed))
        return report.outcomes

    def clean(self, pattern: str | None = None, environment: str | None = None,
              dry_run: bool = False, *, all_: bool = False, orphans: bool = False,
              force: bool = False, yes: bool = False) -> CleanReport:
        """Delete this project's deployments matching ``pattern`` (never hand-made or other
        projects' ones), with ``deploy.clean``'s guards: a pattern may not be empty or blank,
        deleting every deployment needs ``all_=True``, ``orphans`` refuses implausible
        deletions without ``force``, and protected environments need ``yes=True``.
        ``environment`` defaults to ``DEPLOYMENT_ENV`` (then development); "all" is every
        environment. Raises ``UsageError`` when a guard refuses."""
        from deploytasks.console.prompt import confirm

        options = cleaning.CleanOptions(environment, pattern, orphans, all_, force, dry_run,
                                        yes)
        return cleaning.clean(options, confirm).report
