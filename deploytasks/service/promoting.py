"""``env.promote``: deploy to one environment exactly what another one runs.

The target's specs are resolved and checked as for a deploy (a protected target
gets ``env.deploy-prod``'s guards: every deployment valid, a clean tree, no
conflicts, drift only with ``force``), then pinned to what the source runs
(``deploy/promote.py``) and planned, or applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import session
from deploytasks.deploy.apply import ApplyReport
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.records import AppliedRecord
from deploytasks.deploy.version import source_state
from deploytasks.deployment_settings import KINDS
from deploytasks.service.deploying import DeployResult, deploy_resolved, refuse_dirty_tree
from deploytasks.service.preview import PlanResult
from deploytasks.service.progress import SILENT, Progress
from deploytasks.service.selection import NotValid, Selection, resolve_checked
from deploytasks.service.state import read_state


@dataclass
class PromoteOptions:
    """``env.promote``'s options."""

    flows: Sequence[str] = ()
    dry_run: bool = False
    allow_dirty: bool = False
    force: bool = False


def promote(source_env: str, target_env: str, options: PromoteOptions | None = None,
            progress: Progress = SILENT) -> PlanResult | DeployResult:
    """Plan (``dry_run``) or deploy to ``target_env`` what ``source_env`` runs."""
    from deploytasks.deploy.promote import promote_specs

    options = options or PromoteOptions()
    source = session.load_config(source_env)
    checked = resolve_checked(Selection(target_env, flows=options.flows))
    target = checked.resolution.config
    if checked.invalid:
        raise NotValid(checked, f"{target.env.name} does not validate; nothing was promoted",
                       hint="fix the problems above first")
    if target.env.protected and not options.allow_dirty:
        refuse_dirty_tree(target.root)
    remote, records = session.run(_read_source(source))
    checked.resolution = promote_specs(checked.resolution, source, remote, records,
                                       source_state(target.root))
    progress.promoting(source.env.name, target.env.name)
    if options.dry_run:
        state = session.run(read_state(checked.resolution, list(KINDS)))
        return PlanResult(checked, state, protected=target.env.protected, force=options.force)
    report = ApplyReport()
    state, counter = session.run(deploy_resolved(checked.resolution, list(KINDS),
                                                 target.settings.prefect.concurrency, report,
                                                 progress, force=options.force))
    return DeployResult(checked, state.plan, report, counter)


async def _read_source(source: ResolvedConfig
                       ) -> tuple[list[RemoteDeployment], dict[str, AppliedRecord]]:
    owner = ownership(source)
    async with session.gateway(source) as gateway:
        remote = await gateway.read_deployments(owner, [])
        records = await gateway.read_records([*owner.tags, f"env:{source.env.short}"])
    return remote, records
