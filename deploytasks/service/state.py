"""What the server holds for a resolution: the plan, the pools and the drift records.

Read in one go through one gateway, so that a plan costs a handful of requests
whatever the number of deployments; deploying reads the same state through the
gateway it then writes with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import session
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.plan import Plan, make_plan
from deploytasks.deploy.pools import PoolStatus, check_pools
from deploytasks.deploy.prefect_api import PrefectGateway, RequestCounter
from deploytasks.deploy.records import AppliedRecord
from deploytasks.deploy.resolve import Resolution
from deploytasks.settings import Kind


@dataclass
class ServerState:
    """The plan, pools and records read from the server in one go."""

    plan: Plan
    pools: list[PoolStatus]
    requests: RequestCounter
    records: dict[str, AppliedRecord] = field(default_factory=dict)


def read_plan(resolution: Resolution, kinds: list[Kind]) -> Plan:
    """The plan of a resolution against the live server (reads only)."""
    return session.run(read_state(resolution, kinds)).plan


async def read_state(resolution: Resolution, kinds: list[Kind]) -> ServerState:
    """The server state of a resolution, through a gateway of its own."""
    async with session.gateway(resolution.config) as gateway:
        return await state_with(gateway, resolution, kinds)


async def state_with(gateway: PrefectGateway, resolution: Resolution,
                     kinds: list[Kind]) -> ServerState:
    """The server state of a resolution, through an open gateway."""
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
    return ServerState(plan, pools, gateway.counter, records)


async def read_pools(config: ResolvedConfig, kinds: list[Kind]) -> list[PoolStatus]:
    """The configured work pools of ``kinds`` as the server has them (or lacks them)."""
    async with session.gateway(config) as gateway:
        existing = await gateway.read_work_pools()
    return check_pools(config.settings.work_pools, kinds,
                       {name: pool.type for name, pool in existing.items()})
