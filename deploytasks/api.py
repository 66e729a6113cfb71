"""The Python API for custom deployment scripts (the guide's "Advanced Usage").

    from deploytasks.api import DeploymentAPI
    api = DeploymentAPI()
    deployment = api.create_deployment(flow_name="rpa1", environment="production",
                                       custom_parameters={"batch_size": 1000})
    api.deploy(deployment)

The same core as the Invoke tasks: specs are resolved and checked the same
way, and ``deploy`` sends only what differs from the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deploytasks.config import ConfigurationManager, ResolvedConfig
from deploytasks.console import Output
from deploytasks.deploy import commands, session
from deploytasks.deploy.apply import ApplyReport, Outcome
from deploytasks.deploy.clean import CleanReport
from deploytasks.deploy.plan import Plan
from deploytasks.deploy.resolve import Resolution, resolve
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.errors import ConfigError, WorkFailed
from deploytasks.flows.commands import discovery_options
from deploytasks.flows.discovery import FlowSpec, discover
from deploytasks.settings import KINDS, Kind

__all__ = ["ConfigurationManager", "DeploymentAPI", "DeploymentSpec"]


class DeploymentAPI:
    """Discover, create, plan, deploy and clean deployments from Python."""

    def __init__(self, config: ConfigurationManager | None = None) -> None:
        self.config = config or ConfigurationManager()
        self._quiet = Output(quiet=True)

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
                             image_for=commands.image_lookup((kind,), verify=True))
        if resolution.skipped:
            raise ConfigError(resolution.skipped[0].reason, hint=resolution.skipped[0].hint)
        spec = resolution.specs[0]
        problems = commands.check_specs(resolution)
        if problems:
            raise ConfigError("; ".join(str(p) for p in problems))
        return spec

    def plan(self, environment: str = "development", kinds: Sequence[Kind] = KINDS,
             flows: Sequence[str] = ()) -> Plan:
        """What a deploy would do; writes nothing."""
        resolution = resolve(self.load(environment), kinds, flows,
                             image_for=commands.image_lookup(kinds))
        return commands.read_plan(resolution, list(kinds))

    def deploy(self, deployment: DeploymentSpec | Sequence[DeploymentSpec]) -> list[Outcome]:
        """Create or update the given specs; raises ``WorkFailed`` if any failed."""
        specs = [deployment] if isinstance(deployment, DeploymentSpec) else list(deployment)
        if not specs:
            return []
        config = self.load(specs[0].environment)
        resolution = Resolution(config, [], specs, narrowed=True)
        kinds = sorted({s.kind for s in specs})
        report = ApplyReport()
        session.run(commands.deploy_resolved(self._quiet, resolution, kinds,
                                             config.settings.prefect.concurrency, report))
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

        options = commands.CleanOptions(environment, pattern, orphans, all_, force, dry_run,
                                        yes)
        return commands.clean_report(self._quiet, options, confirm)[0]
