"""``deploy.clean``: delete this project's deployments the options select, with their records.

The guards (``deploy/clean.py``) run before anything is deleted: a pattern is
never empty, everything needs ``--all``, an implausible orphan clean refuses
without ``--force``, and a protected environment asks (``confirm``) unless
``--yes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import session
from deploytasks.deploy.clean import (
    ALL_ENVIRONMENTS,
    CleanReport,
    CleanRequest,
    check_request,
    confirm_protected,
    confirm_secrets,
    delete_all,
    guard_orphans,
    in_scope,
    orphan_secrets,
    read_project,
    select,
    stale_records,
)
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.resolve import resolve
from deploytasks.deployment_settings import KINDS
from deploytasks.service.state import read_state

Confirm = Callable[[str], bool]


@dataclass
class CleanOptions:
    """``deploy.clean``'s options: what to delete, where, and how carefully."""

    env: str | None = None  # None: DEPLOYMENT_ENV, then development; "all": every environment
    pattern: str | None = None
    orphans: bool = False
    everything: bool = False
    force: bool = False
    dry_run: bool = False
    yes: bool = False


@dataclass
class CleanResult:
    """What was deleted (or, in a dry run, would be), and what was asked for."""

    report: CleanReport
    request: CleanRequest

    @property
    def failed(self) -> bool:
        return bool(self.report.failed)


def clean(options: CleanOptions, confirm: Confirm) -> CleanResult:
    """Check the options, select and delete; ``confirm`` asks before a protected
    environment loses deployments."""
    check_request(options.pattern, orphans=options.orphans, everything=options.everything)
    every_env = options.env is not None and options.env.strip().lower() == ALL_ENVIRONMENTS
    config = session.load_config(None if every_env else options.env)
    orphans = _orphans(config, every_env) if options.orphans else None
    request = CleanRequest(options.pattern, None if every_env else config.env.short,
                           orphans[0] if orphans else None, options.everything)
    report = session.run(clean_resolved(config, request, options, confirm,
                                        flows_found=orphans[1] if orphans else 1))
    return CleanResult(report, request)


def _orphans(config: ResolvedConfig, every_env: bool) -> tuple[set[tuple[str, str]], int]:
    """The keys of the orphaned deployments (of every environment with ``every_env``), and
    how many flow folders discovery found."""
    from deploytasks.config import ConfigurationManager

    configs = [config] if not every_env else \
        [session.load_config(env) for env in ConfigurationManager().environments()]
    keys: set[tuple[str, str]] = set()
    flows = 0
    for each in configs:
        resolution = resolve(each, KINDS)
        state = session.run(read_state(resolution, list(KINDS)))
        keys |= {item.remote.key for item in state.plan.of("orphaned") if item.remote}
        flows = max(flows, len(resolution.known_names))
    return keys, flows


async def clean_resolved(config: ResolvedConfig, request: CleanRequest, options: CleanOptions,
                         confirm: Confirm, *, flows_found: int = 1) -> CleanReport:
    """Select this project's deployments the request matches and delete them (unless dry),
    with their records, the records of deployments that are gone, and the project's Secret
    blocks no remaining deployment uses (a protected environment asks first)."""
    owner = ownership(config)
    async with session.gateway(config) as gateway:
        project = await read_project(gateway, config)
        report = CleanReport(select(project, request, owner), dry_run=options.dry_run)
        guard_orphans(config, request, len(report.matched), len(in_scope(project, request, owner)),
                      flows_found=flows_found, force=options.force)
        report.stale_records = await stale_records(gateway, config, project)
        owned = await gateway.read_secret_records(list(owner.tags))
        if options.dry_run:
            report.orphan_secrets = orphan_secrets(project, report.matched, owned)
            return report
        if report.matched:
            confirm_protected(config, report.matched, yes=options.yes, confirm=confirm)
            await delete_all(gateway, report)
        for name in report.stale_records:
            await gateway.delete_record(name)
        gone = [d for d in report.matched if d.name in report.deleted]
        report.orphan_secrets = orphan_secrets(project, gone, owned)
        if report.orphan_secrets and confirm_secrets(config, report.orphan_secrets, owned,
                                                     yes=options.yes, confirm=confirm):
            for block in report.orphan_secrets:
                await gateway.delete_secret(block)
            report.secrets_deleted = list(report.orphan_secrets)
        return report
