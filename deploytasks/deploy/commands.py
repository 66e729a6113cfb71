"""The bodies of the ``deploy`` tasks: build, validate, test (plan), deploy.

Each takes an ``Output`` and plain options, calls the core, hands the result
to the renderer and returns the exit code. Clean and check live in their own
modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploytasks import paths
from deploytasks.config import ResolvedConfig
from deploytasks.console import Output
from deploytasks.console import deploy as render
from deploytasks.deploy import session
from deploytasks.deploy.apply import (
    ApplyReport,
    apply_plan,
    apply_secrets,
    context_for,
    create_missing_pools,
)
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
from deploytasks.deploy.plan import Plan, RemoteDeployment, make_plan
from deploytasks.deploy.pools import PoolStatus, check_pools
from deploytasks.deploy.prefect_api import PrefectGateway, RequestCounter
from deploytasks.deploy.readback import DeploymentCheck, check_deployment
from deploytasks.deploy.records import AppliedRecord, SourceState
from deploytasks.deploy.resolve import ImageLookup, Resolution, resolve
from deploytasks.deploy.rules import check_spec
from deploytasks.deploy.secret_blocks import (
    SecretChange,
    blocked_by_conflicts,
    plan_secrets,
    wanted_secrets,
)
from deploytasks.deploy.version import source_state
from deploytasks.deploy.writer import write_specs
from deploytasks.errors import EXIT_PROBLEMS, Interrupted, UsageError, WorkFailed
from deploytasks.findings import Finding
from deploytasks.settings import KINDS, Kind


@dataclass
class Selection:
    """What a command works on: environment, kinds, flows, registry."""

    env: str | None = None
    kinds: Sequence[Kind] = KINDS
    flows: Sequence[str] = ()
    registry: str | None = None
    changed_since: str | None = None


@dataclass
class Checked:
    """A resolution with every spec's problems; specs with problems are not deployable."""

    resolution: Resolution
    problems: list[Finding] = field(default_factory=list)

    @property
    def deployable(self) -> list[str]:
        bad = {p.deployment for p in self.problems}
        return [s.name for s in self.resolution.specs if s.name not in bad]


def resolve_checked(selection: Selection, *, verify_images: bool = False) -> Checked:
    """Load the configuration, resolve the specs and check each of them."""
    config = session.load_config(selection.env, selection.registry)
    resolution = resolve(config, selection.kinds, selection.flows,
                         image_for=image_lookup(selection.kinds, verify=verify_images),
                         changed_since=selection.changed_since)
    return Checked(resolution, check_specs(resolution))


def check_specs(resolution: Resolution) -> list[Finding]:
    """Every problem of every resolved spec."""
    flows = {f.folder: f for f in resolution.flows}
    return [p for spec in resolution.specs
            for p in check_spec(resolution.config, spec, flows[spec.flow_folder])]


def image_lookup(kinds: Sequence[Kind], *, verify: bool = False) -> ImageLookup | None:
    """How docker specs find their image (None when no docker deployment is wanted);
    with ``verify`` the image must exist (deploying), else the manifest suffices."""
    if "docker" not in kinds:
        return None
    from deploytasks.deploy import images_link

    return images_link.verified_image_for if verify else images_link.image_for


def build(out: Output, selection: Selection) -> int:
    """Write every resolved spec of the environment under build/deployments/<env>/."""
    checked = resolve_checked(selection)
    resolution = checked.resolution
    folder = paths.build_dir(resolution.config.root) / "deployments" / resolution.config.env.name
    written = write_specs(folder, resolution.specs, resolution.config, prune=not selection.flows)
    render.build_result(out, checked, written, folder)
    return EXIT_PROBLEMS if resolution.skipped or checked.problems else 0


def validate(out: Output, selection: Selection, *, offline: bool = False) -> int:
    """Check the deployments of an environment without writing anything."""
    checked = resolve_checked(selection)
    config = checked.resolution.config
    pools: list[PoolStatus] = []
    if not offline:
        pools = session.run(_read_pools(config, list(selection.kinds)))
    render.validation_result(out, checked, pools, offline=offline)
    failed = checked.problems or checked.resolution.skipped or any(p.problem for p in pools)
    return EXIT_PROBLEMS if failed else 0


async def _read_pools(config: ResolvedConfig, kinds: list[Kind]) -> list[PoolStatus]:
    async with session.gateway(config) as gateway:
        existing = await gateway.read_work_pools()
    return check_pools(config.settings.work_pools, kinds,
                       {name: pool.type for name, pool in existing.items()})


def plan(out: Output, selection: Selection) -> int:
    """Dry run: read the server once and show what a deploy would do. Writes nothing."""
    checked = resolve_checked(selection)
    state = session.run(read_state(checked.resolution, list(selection.kinds)))
    protected = checked.resolution.config.env.protected
    render.plan_result(out, checked, state.plan, state.pools, state.requests,
                       protected=protected, secrets=state.secrets)
    conflicts = any(c.action == "conflict" for c in state.secrets)
    blocked = checked.problems or checked.resolution.skipped or state.plan.of("conflict") \
        or (protected and state.plan.drifted) or conflicts
    return EXIT_PROBLEMS if blocked else 0


@dataclass
class ServerState:
    """The plan, pools and records read from the server in one go."""

    plan: Plan
    pools: list[PoolStatus]
    requests: RequestCounter
    records: dict[str, AppliedRecord] = field(default_factory=dict)
    secrets: list[SecretChange] = field(default_factory=list)


def read_plan(resolution: Resolution, kinds: list[Kind]) -> Plan:
    """The plan of a resolution against the live server (reads only)."""
    return session.run(read_state(resolution, kinds)).plan


async def read_state(resolution: Resolution, kinds: list[Kind]) -> ServerState:
    async with session.gateway(resolution.config) as gateway:
        return await _state_with(gateway, resolution, kinds)


async def _state_with(gateway: PrefectGateway, resolution: Resolution,
                      kinds: list[Kind]) -> ServerState:
    config = resolution.config
    owner = ownership(config)
    remote = await gateway.read_deployments(owner, [s.name for s in resolution.specs])
    records = await gateway.read_records([*owner.tags, f"env:{config.env.short}"])
    plan = make_plan(resolution.specs, remote, ownership=owner,
                     env_tag=f"env:{config.env.short}",
                     known_names=None if resolution.narrowed else resolution.known_names,
                     records=records)
    existing = await gateway.read_work_pools()
    pools = check_pools(config.settings.work_pools, kinds,
                        {name: pool.type for name, pool in existing.items()})
    secrets = await _secret_changes(gateway, resolution, secret_tags(config))
    return ServerState(plan, pools, gateway.counter, records, secrets)


def secret_tags(config: ResolvedConfig) -> list[str]:
    """The tags of the records that make a Secret block this project's in this env."""
    return [*ownership(config).tags, f"env:{config.env.short}"]


async def _secret_changes(gateway: PrefectGateway, resolution: Resolution,
                          tags: list[str]) -> list[SecretChange]:
    """Each Secret block the specs reference, against the server (no read when none)."""
    wanted = wanted_secrets(resolution.specs)
    if not wanted:
        return []
    server = await gateway.read_secret_digests(sorted(wanted))
    owned = await gateway.read_secret_records(tags) if server else {}
    return plan_secrets(wanted, server, set(owned))


def deploy(out: Output, selection: Selection, *, concurrency: int | None = None,
           require_valid: bool = False, force: bool = False) -> int:
    """Create missing pools, then create and update what the plan says; report each."""
    checked = resolve_checked(selection, verify_images=True)
    if require_valid and (checked.problems or checked.resolution.skipped):
        render.validation_result(out, checked, [], offline=True)
        raise WorkFailed("validation failed, nothing was deployed",
                         hint="fix the problems above (invoke deploy.validate --env "
                              f"{checked.resolution.config.env.name})")
    resolution = checked.resolution
    resolution.specs = [s for s in resolution.specs if s.name in checked.deployable]
    limit = concurrency or resolution.config.settings.prefect.concurrency
    report = ApplyReport()
    try:
        state, counter = session.run(deploy_resolved(out, resolution, list(selection.kinds),
                                                     limit, report, force=force))
    except KeyboardInterrupt:
        raise Interrupted(render.interrupted_summary(report)) from None
    render.deploy_result(out, checked, state.plan, report, counter)
    failed = report.failed or checked.problems or resolution.skipped or state.plan.of("conflict")
    return EXIT_PROBLEMS if failed else 0


async def deploy_resolved(out: Output, resolution: Resolution, kinds: list[Kind], limit: int,
                          report: ApplyReport, *,
                          force: bool = False) -> tuple[ServerState, RequestCounter]:
    """Plan against the server, create the pools the writes need, apply the writes.

    Outcomes land in ``report`` as they finish, so an interrupted run can still
    say what was done."""
    async with session.gateway(resolution.config) as gateway:
        state = await _state_with(gateway, resolution, kinds)
        report.planned = [item.name for item in state.plan.writes]
        render.plan_summary_line(out, state.plan)
        needed = {item.spec.kind for item in state.plan.writes if item.spec}
        await create_missing_pools(resolution.config,
                                   [p for p in state.pools if p.kind in needed], gateway, report)
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
        progress = render.ApplyProgress(out, len(state.plan.writes))
        with progress:
            await apply_plan(state.plan, gateway, concurrency=limit, report=report,
                             on_outcome=progress.advance, blocked=blocked, context=context)
        return state, gateway.counter


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


def clean(out: Output, options: CleanOptions, confirm: Callable[[str], bool]) -> int:
    """Delete this project's deployments the options select; production asks first."""
    report, request = clean_report(out, options, confirm)
    render.clean_result(out, report, request)
    return EXIT_PROBLEMS if report.failed else 0


def clean_report(out: Output, options: CleanOptions,
                 confirm: Callable[[str], bool]) -> tuple[CleanReport, CleanRequest]:
    """Check the options, select and delete; what was deleted (the API returns it)."""
    check_request(options.pattern, orphans=options.orphans, everything=options.everything)
    every_env = options.env is not None and options.env.strip().lower() == ALL_ENVIRONMENTS
    config = session.load_config(None if every_env else options.env)
    orphans = _orphans(config, every_env) if options.orphans else None
    request = CleanRequest(options.pattern, None if every_env else config.env.short,
                           orphans[0] if orphans else None, options.everything)
    report = session.run(clean_resolved(out, config, request, options, confirm,
                                        flows_found=orphans[1] if orphans else 1))
    return report, request


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


async def clean_resolved(out: Output, config: ResolvedConfig, request: CleanRequest,
                         options: CleanOptions, confirm: Callable[[str], bool], *,
                         flows_found: int = 1) -> CleanReport:
    """Select this project's deployments the request matches and delete them (unless dry),
    with their records and the records of deployments that are gone."""
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


def check(out: Output, selection: Selection, *, browser: bool = False) -> int:
    """Read the environment's deployments back as the UI shows them; exit 1 on a mismatch."""
    resolution = resolve(session.load_config(selection.env), selection.kinds, selection.flows,
                         image_for=image_lookup(selection.kinds),
                         changed_since=selection.changed_since)
    checks, ui_problem = session.run(_check(resolution))
    shot = None
    if browser:
        from deploytasks.deploy.browser import check_in_browser

        shot = check_in_browser(session.ui_url(session.api_url(resolution.config),
                                               resolution.config.settings.prefect.ui_url),
                                {c.name: c.link for c in checks if c.link},
                                resolution.config.root)
    render.check_result(out, resolution, checks, ui_problem, shot)
    failed = any(not c.ok for c in checks) or ui_problem or (shot and shot.missing)
    return EXIT_PROBLEMS if failed or resolution.skipped else 0


async def _check(resolution: Resolution) -> tuple[list[DeploymentCheck], str | None]:
    config = resolution.config
    async with session.gateway(config) as gateway:
        owner = ownership(config)
        remote = await gateway.read_deployments(owner, [s.name for s in resolution.specs])
        pools = await gateway.read_work_pools()
        used = {s.work_pool for s in resolution.specs if s.work_pool in pools}
        polled = {name for name in used if await gateway.pool_has_workers(name)}
        ui = session.ui_url(gateway.api_url, config.settings.prefect.ui_url)
        ui_problem = await gateway.ui_problem(ui)
    by_key = {d.key: d for d in remote}
    types = {name: pool.type for name, pool in pools.items()}
    wanted = {pool.name: pool.type for pool in config.settings.work_pools.values()}
    checks = [check_deployment(spec, by_key.get(spec.key), owner, ui=ui, pools=types,
                               polled_pools=polled, pool_type=wanted.get(spec.work_pool))
              for spec in resolution.specs]
    return checks, ui_problem


def validate_deployment(out: Output, name: str, env: str | None, *, offline: bool) -> int:
    """Validate one deployment by name, finding its environment, flow and kind."""
    from deploytasks.config import ConfigurationManager
    from deploytasks.deploy.specs import deployment_name
    from deploytasks.flows.commands import discovery_options
    from deploytasks.flows.discovery import discover

    manager = ConfigurationManager()
    for environment in [env] if env else manager.environments():
        config = manager.load(environment)
        for flow in discover(config.root, discovery_options(config)):
            for kind in KINDS:
                if deployment_name(config, flow, kind) == name:
                    selection = Selection(config.env.name, (kind,),
                                          (flow.entrypoint or flow.folder,))
                    return validate(out, selection, offline=offline)
    raise UsageError(f"no deployment named '{name}' in "
                     f"{'environment ' + env if env else 'any environment'}",
                     where="--deployment",
                     hint="list them with: invoke deploy.build --verbose (or deploy.test)")


@dataclass
class PromoteOptions:
    """``env.promote``'s options."""

    flows: Sequence[str] = ()
    dry_run: bool = False
    allow_dirty: bool = False
    force: bool = False


def promote(out: Output, source_env: str, target_env: str,
            options: PromoteOptions | None = None) -> int:
    """Deploy to ``target_env`` exactly what ``source_env`` runs; a protected target gets
    ``env.deploy-prod``'s guards (validation, a clean tree, conflicts and drift)."""
    from deploytasks.deploy.promote import promote_specs

    options = options or PromoteOptions()
    source = session.load_config(source_env)
    checked = resolve_checked(Selection(target_env, flows=options.flows))
    target = checked.resolution.config
    if checked.problems or checked.resolution.skipped:
        render.validation_result(out, checked, [], offline=True)
        raise WorkFailed(f"{target.env.name} does not validate; nothing "
                         "was promoted", hint="fix the problems above first")
    if target.env.protected and not options.allow_dirty:
        refuse_dirty_tree(target.root)
    remote, records = session.run(_read_source(source))
    checked.resolution = promote_specs(checked.resolution, source, remote, records,
                                       source_state(target.root))
    out.line(f"Promoting {source.env.name} → {target.env.name}")
    if options.dry_run:
        state = session.run(read_state(checked.resolution, list(KINDS)))
        render.plan_result(out, checked, state.plan, state.pools, state.requests,
                           protected=target.env.protected, secrets=state.secrets)
        refused = target.env.protected and state.plan.drifted and not options.force
        blocked = checked.resolution.skipped or state.plan.of("conflict") or refused
        return EXIT_PROBLEMS if blocked else 0
    report = ApplyReport()
    state, counter = session.run(deploy_resolved(out, checked.resolution, list(KINDS),
                                                 target.settings.prefect.concurrency, report,
                                                 force=options.force))
    render.deploy_result(out, checked, state.plan, report, counter)
    failed = report.failed or checked.resolution.skipped or state.plan.of("conflict")
    return EXIT_PROBLEMS if failed else 0


def refuse_dirty_tree(root: Path) -> None:
    """Protected environments get committed code only (unless --allow-dirty)."""
    from deploytasks.deploy.version import tree_is_dirty

    if tree_is_dirty(root):
        raise UsageError("the git tree has uncommitted changes; production deploys only "
                         "committed code", hint="commit or stash them, or pass --allow-dirty")


async def _read_source(source: ResolvedConfig
                       ) -> tuple[list[RemoteDeployment], dict[str, AppliedRecord]]:
    owner = ownership(source)
    async with session.gateway(source) as gateway:
        remote = await gateway.read_deployments(owner, [])
        records = await gateway.read_records([*owner.tags, f"env:{source.env.short}"])
    return remote, records


def adopt(out: Output, selection: Selection, *, dry_run: bool, yes: bool,
          confirm: Callable[[str], bool]) -> int:
    """Claim for this project the legacy deployments (the tool's tag, no project) that its
    configuration wants in the environment; production asks first."""
    from deploytasks.deploy.adopt import adopt_with, wanted_keys

    config = session.load_config(selection.env)
    wanted = wanted_keys(config, selection.flows, selection.kinds)

    async def run() -> Any:
        async with session.gateway(config) as gateway:
            return await adopt_with(gateway, config, wanted, dry_run=dry_run, yes=yes,
                                    confirm=confirm)

    report = session.run(run())
    render.adopt_result(out, report)
    return EXIT_PROBLEMS if report.failed else 0
