"""What a deploy would do, without doing it: build, validate and plan (the dry run).

``build`` writes the resolved specs under ``build/`` and reads nothing from the
server; ``validate`` checks them (and, online, the work pools); ``plan`` reads
the server once and says what a deploy would create, update, leave or find
orphaned. None of them writes to the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploytasks import paths
from deploytasks.deploy import session
from deploytasks.deploy.pools import PoolStatus
from deploytasks.deploy.writer import write_specs
from deploytasks.service.selection import Checked, Selection, resolve_checked
from deploytasks.service.state import ServerState, read_pools, read_state


@dataclass
class BuildResult:
    """The specs written under ``build/deployments/<env>/``, and those left out."""

    checked: Checked
    written: list[Path]
    folder: Path

    @property
    def failed(self) -> bool:
        return self.checked.invalid


@dataclass
class ValidationResult:
    """Every problem of an environment's deployments, with the work pools' state."""

    checked: Checked
    pools: list[PoolStatus]
    offline: bool = False

    @property
    def failed(self) -> bool:
        return self.checked.invalid or any(p.problem for p in self.pools)


@dataclass
class PlanResult:
    """The dry run: the checked specs against what the server holds."""

    checked: Checked
    state: ServerState
    protected: bool = False  # drift is refused there (unless forced)
    force: bool = False

    @property
    def failed(self) -> bool:
        """Whether a deploy would be blocked: problems, conflicts (of deployments or Secret
        blocks), or refused drift."""
        refused = self.protected and bool(self.state.plan.drifted) and not self.force
        return self.checked.invalid or bool(self.state.plan.of("conflict")) or refused \
            or self.state.secret_conflicts


def build(selection: Selection) -> BuildResult:
    """Write every resolved spec of the environment under build/deployments/<env>/."""
    checked = resolve_checked(selection)
    resolution = checked.resolution
    folder = paths.build_dir(resolution.config.root) / "deployments" / resolution.config.env.name
    written = write_specs(folder, resolution.specs, resolution.config, prune=not selection.flows)
    return BuildResult(checked, written, folder)


def validate(selection: Selection, *, offline: bool = False) -> ValidationResult:
    """Check the deployments of an environment (and, unless offline, its work pools)."""
    checked = resolve_checked(selection)
    pools: list[PoolStatus] = []
    if not offline:
        pools = session.run(read_pools(checked.resolution, list(selection.kinds)))
    return ValidationResult(checked, pools, offline)


def plan(selection: Selection) -> PlanResult:
    """Read the server once and say what a deploy would do. Writes nothing."""
    checked = resolve_checked(selection)
    state = session.run(read_state(checked.without_invalid(), list(selection.kinds)))
    return PlanResult(checked, state, protected=checked.resolution.config.env.protected)
