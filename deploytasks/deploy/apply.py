"""Apply a plan: create missing pools, then send only the creates and updates.

Writes run concurrently up to a bound that adapts to the server (halved on a
busy answer, grown back after a calm period; ``throttle.py``); each
deployment's failure is its own, never the others'. Outcomes are reported as
they finish, so an interrupted run can still say exactly what was done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.plan import Plan, PlanItem
from deploytasks.deploy.pools import PoolStatus, base_job_template
from deploytasks.deploy.prefect_api import PrefectGateway
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

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


OnOutcome = Callable[[Outcome], None]


async def create_missing_pools(config: ResolvedConfig, pools: list[PoolStatus],
                               gateway: PrefectGateway, report: ApplyReport) -> None:
    """Create the configured pools the server lacks; a failure is recorded per pool."""
    for status in pools:
        if status.state != "missing":
            continue
        pool = config.settings.work_pools[status.kind]
        try:
            await gateway.create_work_pool(pool.name, pool.type, base_job_template(pool))
            report.pools_created.append(pool.name)
        except DeployTasksError as error:
            now = (await gateway.read_work_pools()).get(pool.name)
            if now is None or now.type != pool.type:  # not created meanwhile by another run
                report.pool_failures[pool.name] = str(error)


async def apply_plan(plan: Plan, gateway: PrefectGateway, *, concurrency: int,
                     report: ApplyReport, on_outcome: OnOutcome, blocked: dict[str, str]
                     ) -> ApplyReport:
    """Send the plan's writes; ``blocked`` maps pool names to why their deployments fail."""
    gateway.throttle.set_ceiling(concurrency)
    flow_ids: dict[str, asyncio.Task[Any]] = {}

    async def one(item: PlanItem) -> None:
        async with gateway.throttle.slot():
            outcome = await _apply_item(item, gateway, flow_ids, blocked)
        report.outcomes.append(outcome)
        on_outcome(outcome)

    await asyncio.gather(*(one(item) for item in plan.writes))
    return report


async def _apply_item(item: PlanItem, gateway: PrefectGateway,
                      flow_ids: dict[str, asyncio.Task[Any]], blocked: dict[str, str]) -> Outcome:
    assert item.spec is not None
    started = time.perf_counter()
    if item.spec.work_pool in blocked:
        return Outcome(item.name, item.action, False, blocked[item.spec.work_pool])
    try:
        if item.action == "create":
            if item.flow_name not in flow_ids:
                flow_ids[item.flow_name] = asyncio.ensure_future(
                    gateway.ensure_flow(item.flow_name))
            flow_id = await asyncio.shield(flow_ids[item.flow_name])
            await gateway.create_deployment(item.spec, flow_id)
        else:
            assert item.remote is not None
            await gateway.update_deployment(item.remote, item.spec,
                                            {c.field for c in item.changes})
    except DeployTasksError as error:
        return Outcome(item.name, item.action, False, error.message,
                       time.perf_counter() - started)
    return Outcome(item.name, item.action, True, None, time.perf_counter() - started)
