"""What every deployment-spec rule is given: the configuration, the spec, its flow, and
the deployment's settings with the origin of each value (so a problem can say where the
setting was set)."""

from __future__ import annotations

from dataclasses import dataclass

from deploytasks.config import ResolvedConfig, ResolvedDeploymentSettings
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.findings import Finding
from deploytasks.flows.model import FlowSpec


@dataclass(frozen=True)
class SpecContext:
    """One resolved deployment spec and everything its rules look at."""

    config: ResolvedConfig
    spec: DeploymentSpec
    flow: FlowSpec
    resolved: ResolvedDeploymentSettings

    def where(self, *path: str) -> tuple[str | None, int | None]:
        """The source and line that set the setting at ``path`` (None, None: unknown)."""
        origin = self.resolved.provenance.get(path)
        return (origin.source, origin.line) if origin else (None, None)

    def problem(self, setting: str, message: str, hint: str,
                *path: str) -> Finding:
        """A problem of this deployment's ``setting``, set where ``path`` was set."""
        return Finding.problem(self.spec.name, setting, message, hint,
                               self.where(*path) if path else (None, None))
