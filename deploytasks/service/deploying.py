"""Deploy: plan against the server, create the pools and Secret blocks the writes need, send
the writes.

``deploy`` is what the ``deploy.*`` and ``env.deploy-*`` tasks run;
``deploy_resolved`` is the apply they share with ``env.promote`` and the Python
API (``deploy_specs``). Outcomes land in the ``ApplyReport`` as they finish and
are reported to the ``Progress`` at once, so an interrupted run can still say
exactly what was done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import session
from deploytasks.deploy.apply import (
    ApplyReport,
    apply_plan,
    apply_secrets,
    context_for,
    create_missing_pools,
)
from deploytasks.deploy.plan import Plan
from deploytasks.deploy.prefect_api import RequestCounter
from deploytasks.deploy.records import SourceState
from deploytasks.deploy.resolve import Resolution
from deploytasks.deploy.secret_blocks import blocked_by_conflicts, wanted_secrets
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.deploy.version import source_state
from deploytasks.deployment_settings import Kind
from deploytasks.errors import Interrupted, UsageError
from deploytasks.service.progress import SILENT, Progress
from deploytasks.service.selection import Checked, NotValid, Selection, resolve_checked
from deploytasks.service.state import ServerState, secret_tags, state_with


@dataclass
class DeployResult:
    """What a deploy did: its plan, every outcome, and the requests it took."""

    checked: Checked
    plan: Plan
    report: ApplyReport
    requests: RequestCounter

    @property
    def failed(self) -> bool:
        """Whether anything failed, was left out, or is another's (a conflict)."""
        return bool(self.report.failed) or self.checked.invalid or bool(self.plan.of("conflict"))


def deploy(selection: Selection, progress: Progress = SILENT, *, concurrency: int | None = None,
           require_valid: bool = False, force: bool = False) -> DeployResult:
    """Create missing pools, then create and update what the plan says; with
    ``require_valid`` nothing is written unless every deployment is valid."""
    checked = resolve_checked(selection, verify_images=True)
    if require_valid and checked.invalid:
        raise NotValid(checked, "validation failed, nothing was deployed",
                       hint="fix the problems above (invoke deploy.validate --env "
                            f"{checked.resolution.config.env.name})")
    resolution = checked.without_invalid()
    limit = concurrency or resolution.config.settings.prefect.concurrency
    report = ApplyReport()
    try:
        state, counter = session.run(deploy_resolved(resolution, list(selection.kinds), limit,
                                                     report, progress, force=force))
    except KeyboardInterrupt:
        raise Interrupted(interrupted_summary(report)) from None
    return DeployResult(checked, state.plan, report, counter)


def deploy_specs(config: ResolvedConfig, specs: list[DeploymentSpec],
                 progress: Progress = SILENT) -> ApplyReport:
    """Create or update exactly these specs (of ``config``'s environment); nothing else is
    planned (no orphans, no pools of other kinds)."""
    resolution = Resolution(config, [], specs, narrowed=True)
    report = ApplyReport()
    session.run(deploy_resolved(resolution, sorted({s.kind for s in specs}),
                                config.settings.prefect.concurrency, report, progress))
    return report


async def deploy_resolved(resolution: Resolution, kinds: list[Kind], limit: int,
                          report: ApplyReport, progress: Progress = SILENT, *,
                          force: bool = False) -> tuple[ServerState, RequestCounter]:
    """Plan against the server, create the pools the writes need, apply the writes.

    Outcomes land in ``report`` as they finish, so an interrupted run can still
    say what was done."""
    async with session.gateway(resolution.config) as gateway:
        state = await state_with(gateway, resolution, kinds)
        report.planned = [item.name for item in state.plan.writes]
        progress.planned(state.plan)
        await create_missing_pools(resolution.config, state.pools_to_create(), gateway, report)
        wanted = {name: secret for name, (secret, _) in
                  wanted_secrets(resolution.specs).items()}
        await apply_secrets(state.secrets, wanted, gateway, secret_tags(resolution.config),
                            report)
        blocked = {p.name: p.problem.message for p in state.pools if p.problem}
        blocked.update(report.pool_failures)
        blocked.update(blocked_by_conflicts(state.secrets))
        blocked.update(report.secret_failures)
        source = source_state(resolution.config.root) if state.plan.writes else None
        context = context_for(resolution.config, state.records, source or SourceState(),
                              force=force)
        progress.applying(len(state.plan.writes))
        try:
            await apply_plan(state.plan, gateway, concurrency=limit, report=report,
                             on_outcome=progress.finished, blocked=blocked, context=context)
        finally:
            progress.applied()
        return state, gateway.counter


def interrupted_summary(report: ApplyReport) -> str:
    """One line for Ctrl-C: what was written, what was not, and how to finish."""
    done = {o.name for o in report.outcomes if o.ok}
    failed = {o.name for o in report.outcomes if not o.ok}
    left = [name for name in report.planned if name not in done | failed]
    shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    return (f"interrupted: {len(done)} of {len(report.planned)} changes written"
            f"{f', {len(failed)} failed' if failed else ''}"
            f"{f'; not done: {shown}' if left else ''} — run the same command again to "
            "finish (it only sends what is still missing)")


def refuse_dirty_tree(root: Path) -> None:
    """Protected environments get committed code only (unless --allow-dirty)."""
    from deploytasks.deploy.version import tree_is_dirty

    if tree_is_dirty(root):
        raise UsageError("the git tree has uncommitted changes; production deploys only "
                         "committed code", hint="commit or stash them, or pass --allow-dirty")
