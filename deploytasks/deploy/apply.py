"""Apply a plan: create missing pools, then send only the creates and updates.

Writes run concurrently up to a bound that adapts to the server (halved on a
busy answer, grown back after a calm period; ``throttle.py``); each
deployment's failure is its own, never the others'. Outcomes are reported as
they finish, so an interrupted run can still say exactly what was done.

On a shared server a create is re-checked just before it is sent (a deployment
that appeared since the plan is a conflict, not ours to overwrite), and one that
still hit an existing row is undone (``takeover``). After every successful write
the deployment's record (``records``) is replaced, so the next plan can tell a
server edit (drift) from a change of the repository. In protected environments
drifted deployments are refused unless ``force``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import interrupt
from deploytasks.deploy.fields import TRIGGERS, projected
from deploytasks.deploy.ownership import Ownership, ownership
from deploytasks.deploy.plan import Plan, PlanItem, RemoteDeployment, diff_fields
from deploytasks.deploy.pools import PoolStatus, base_job_template
from deploytasks.deploy.prefect_api import PrefectGateway
from deploytasks.deploy.records import AppliedRecord, SourceState, record_of
from deploytasks.deploy.secret_blocks import SecretChange, SecretValue
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.deploy.takeover import judge, strip_our_tags
from deploytasks.errors import DeployTasksError


@dataclass(frozen=True)
class Outcome:
    """What happened to one deployment."""

    name: str
    action: str
    ok: bool
    message: str | None = None
    seconds: float = 0.0

    def to_document(self) -> dict[str, Any]:
        return {"name": self.name, "action": self.action, "ok": self.ok,
                "message": self.message, "seconds": round(self.seconds, 3)}


@dataclass
class ApplyReport:
    """Every outcome of one apply, in the order they finished."""

    outcomes: list[Outcome] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    pools_created: list[str] = field(default_factory=list)
    pool_failures: dict[str, str] = field(default_factory=dict)
    secrets_written: list[str] = field(default_factory=list)
    secret_failures: dict[str, str] = field(default_factory=dict)  # deployment → why

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


OnOutcome = Callable[[Outcome], None]


@dataclass
class ApplyContext:
    """What every write needs besides its plan item: whose we are, what the server's
    records say, where the code comes from, and whether drift may be overwritten."""

    ownership: Ownership
    env_short: str
    records: dict[str, AppliedRecord] = field(default_factory=dict)
    source: SourceState = field(default_factory=SourceState)
    refuse_drift: bool = False

    def version_info(self, spec: DeploymentSpec) -> dict[str, Any]:
        """The version info a write sends with the spec's version (``records``)."""
        return self.source.version_info(spec.version)

    @property
    def record_tags(self) -> list[str]:
        return [*self.ownership.tags, f"env:{self.env_short}"]


def context_for(config: ResolvedConfig, records: dict[str, AppliedRecord],
                source: SourceState, *, force: bool) -> ApplyContext:
    """The apply context of a configuration: drift is refused in protected environments
    unless ``force``."""
    return ApplyContext(ownership(config), config.env.short, records, source,
                        refuse_drift=config.env.protected and not force)


async def create_missing_pools(config: ResolvedConfig, pools: list[PoolStatus],
                               gateway: PrefectGateway, report: ApplyReport) -> None:
    """Create the configured pools the server lacks; a failure is recorded per pool."""
    for status in pools:
        if status.state != "missing":
            continue
        pool = config.settings.work_pools[status.kind]
        try:
            await gateway.create_work_pool(pool.name, pool.type, base_job_template(pool),
                                           f"Created by deploytasks for project "
                                           f"'{config.settings.project}'.")
            report.pools_created.append(pool.name)
        except DeployTasksError as error:
            now = (await gateway.read_work_pools()).get(pool.name)
            if now is None or now.type != pool.type:  # not created meanwhile by another run
                report.pool_failures[pool.name] = str(error)


async def apply_secrets(changes: list[SecretChange], wanted: dict[str, SecretValue],
                        gateway: PrefectGateway, tags: list[str], report: ApplyReport) -> None:
    """Create or update the Secret blocks whose value is new or changed, before the
    deployments that reference them; a block that fails fails its deployments."""
    for change in changes:
        if change.action not in ("create", "update"):
            continue
        try:
            await gateway.write_secret(wanted[change.block], tags,
                                       exists=change.action == "update")
            report.secrets_written.append(change.block)
        except DeployTasksError as error:
            for name in change.deployments:
                report.secret_failures[name] = str(error)


async def apply_plan(plan: Plan, gateway: PrefectGateway, *, concurrency: int,
                     report: ApplyReport, on_outcome: OnOutcome, blocked: dict[str, str],
                     context: ApplyContext) -> ApplyReport:
    """Send the plan's writes; ``blocked`` maps pool names to why their deployments fail."""
    gateway.throttle.set_ceiling(concurrency)
    flow_ids: dict[str, asyncio.Task[Any]] = {}

    async def one(item: PlanItem) -> None:
        async with gateway.throttle.slot():
            if interrupt.requested():  # Ctrl-C: nothing new is sent
                return
            outcome = await _apply_item(item, gateway, flow_ids, blocked, context)
        report.outcomes.append(outcome)
        on_outcome(outcome)

    await asyncio.gather(*(one(item) for item in plan.writes))
    return report


async def _apply_item(item: PlanItem, gateway: PrefectGateway,
                      flow_ids: dict[str, asyncio.Task[Any]], blocked: dict[str, str],
                      context: ApplyContext) -> Outcome:
    assert item.spec is not None
    started = time.perf_counter()
    reason = blocked.get(item.spec.work_pool) or blocked.get(item.name)
    if reason:
        return Outcome(item.name, item.action, False, reason)
    if item.drift and context.refuse_drift:
        return Outcome(item.name, item.action, False, drift_refusal(item))
    try:
        if item.action == "create":
            if item.flow_name not in flow_ids:
                flow_ids[item.flow_name] = asyncio.ensure_future(
                    gateway.ensure_flow(item.flow_name))
            flow_id = await asyncio.shield(flow_ids[item.flow_name])
            outcome = await _create(item, flow_id, gateway, context)
        else:
            assert item.remote is not None
            await _update(item.remote, item.spec, {c.field for c in item.changes}, gateway,
                          context)
            outcome = await _recorded(item, item.remote.id, gateway, context)
    except DeployTasksError as error:
        outcome = Outcome(item.name, item.action, False, error.message)
    return replace(outcome, seconds=time.perf_counter() - started)


def drift_refusal(item: PlanItem) -> str:
    """Why a drifted deployment of a protected environment was not written."""
    return (f"changed on the server since the last deploy ({', '.join(item.drift)}); not "
            "overwritten in a protected environment — look at the change, then deploy "
            "again with --force to overwrite it (or put the change into the configuration)")


async def _create(item: PlanItem, flow_id: Any, gateway: PrefectGateway,
                  context: ApplyContext) -> Outcome:
    """Create one deployment, unless one appeared under its name since the plan."""
    assert item.spec is not None
    now = await gateway.read_deployment_named(item.flow_name, item.name, context.ownership)
    if now is not None:
        return await _appeared(item, now, gateway, context)
    deployment_id = await gateway.create_deployment(item.spec, flow_id,
                                                    context.version_info(item.spec))
    since = gateway.took_over(deployment_id)
    if since is not None:
        refused = await _undo_takeover(item, deployment_id, since, gateway, context)
        if refused is not None:
            return refused
    if item.spec.triggers:  # only on a deployment that is ours (not one we took over)
        await gateway.sync_triggers(deployment_id, item.spec.name, item.spec.triggers, (),
                                    context.record_tags)
    return await _recorded(item, deployment_id, gateway, context)


async def _appeared(item: PlanItem, now: RemoteDeployment, gateway: PrefectGateway,
                    context: ApplyContext) -> Outcome:
    """A deployment that appeared since the plan: another run of ours made it (bring it to
    the spec), or someone else did (a conflict: reported, never written)."""
    assert item.spec is not None
    if not context.ownership.owns(now.tags):
        return Outcome(item.name, "conflict", False,
                       f"a {context.ownership.describe(now.tags)} deployment with this name "
                       "appeared after the plan was read; it was not taken over — rename one "
                       "of them (naming.deployment) or remove it by hand")
    wanted = item.spec.comparable()
    changes = diff_fields(projected(now.fields, wanted), wanted)
    if changes:
        await _update(now, item.spec, {c.field for c in changes}, gateway, context)
    return await _recorded(item, now.id, gateway, context)


async def _update(remote: RemoteDeployment, spec: DeploymentSpec, changed: set[str],
                  gateway: PrefectGateway, context: ApplyContext) -> None:
    """Send the changed fields, then keep the triggers' automations in step when they
    changed."""
    await gateway.update_deployment(remote, spec, changed, context.version_info(spec))
    if TRIGGERS.name in changed:
        await gateway.sync_triggers(remote.id, spec.name, spec.triggers, remote.automations,
                                    context.record_tags)


async def _undo_takeover(item: PlanItem, deployment_id: str, since: str,
                         gateway: PrefectGateway, context: ApplyContext) -> Outcome | None:
    """Our create hit a row that existed before it. None when that row was ours (a
    concurrent run of this project); otherwise put back what can be put back and say
    what could not."""
    assert item.spec is not None
    payload = await _upsert_event(deployment_id, since, gateway)
    if payload == "ours":
        return None
    verdict = judge(payload, item.spec, context.ownership)
    if verdict.was_ours:
        return None
    if payload is None:
        values = strip_our_tags(item.spec, context.ownership)
        verdict.lost.insert(0, "its previous values (the server recorded no update event)")
    else:
        values = dict(verdict.values)
        if verdict.queue_id:
            pool, queue = await gateway.work_queue_of(verdict.queue_id)
            values.update(work_pool_name=pool, work_queue_name=queue)
    await gateway.restore_deployment(deployment_id, item.name, values)
    who = "an unknown" if payload is None else f"a {verdict.previous_owner}"
    return Outcome(item.name, "conflict", False,
                   f"{who} deployment with this name was created after the plan was read, and "
                   "Prefect's create overwrote it; it was restored except for "
                   f"{'; '.join(verdict.lost)} — check it, then rename one of them "
                   "(naming.deployment) or remove it by hand")


async def _upsert_event(deployment_id: str, since: str,
                        gateway: PrefectGateway) -> dict[str, Any] | Literal["ours"] | None:
    """Wait for the server's update event of our upsert. "ours" when, meanwhile, the row
    turns out to be recorded as ours (a concurrent run of this project made it: the same
    values, so the server emits no event); None when neither shows within the wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + gateway.event_wait
    while True:
        payload = await gateway.read_upsert_event(deployment_id, since)
        if payload is not None:
            return payload
        if await gateway.read_record(deployment_id) is not None:
            return "ours"
        if loop.time() > deadline:
            return None
        await asyncio.sleep(0.25)


async def _recorded(item: PlanItem, deployment_id: str, gateway: PrefectGateway,
                    context: ApplyContext) -> Outcome:
    """Record what was applied, and say so when the write overwrote drift."""
    assert item.spec is not None
    record = record_of(deployment_id, item.name, item.spec.comparable(), context.source)
    try:
        await gateway.write_record(record, context.record_tags,
                                   exists=deployment_id in context.records)
    except DeployTasksError as error:
        return Outcome(item.name, item.action, False,
                       f"written, but its record (for drift detection) was not: {error.message}")
    message = f"overwrote server edits of {', '.join(item.drift)}" if item.drift else None
    return Outcome(item.name, item.action, True, message)
