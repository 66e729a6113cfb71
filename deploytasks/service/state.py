"""What the server holds for a resolution: the plan, the pools, the drift records and the
Secret blocks the specs reference.

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
from deploytasks.deploy.secret_blocks import SecretChange, plan_secrets, wanted_secrets
from deploytasks.deployment_settings import Kind


@dataclass
class ServerState:
    """The plan, pools and records read from the server in one go."""

    plan: Plan
    pools: list[PoolStatus]
    requests: RequestCounter
    records: dict[str, AppliedRecord] = field(default_factory=dict)
    secrets: list[SecretChange] = field(default_factory=list)

    @property
    def secret_conflicts(self) -> bool:
        """A Secret block with our name that is not ours: its deployments are not written."""
        return any(change.action == "conflict" for change in self.secrets)

    def pools_to_create(self) -> list[PoolStatus]:
        """The missing pools the plan's writes need: a kind with nothing to write (none of
        its deployments configured, or all unchanged) gets no pool, in a dry run as in a
        deploy."""
        needed = {item.spec.kind for item in self.plan.writes if item.spec}
        return [p for p in self.pools if p.state == "missing" and p.kind in needed]


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
    pools = await _pools_with(gateway, resolution, kinds)
    secrets = await _secret_changes(gateway, resolution, secret_tags(config))
    return ServerState(plan, pools, gateway.counter, records, secrets)


async def _pools_with(gateway: PrefectGateway, resolution: Resolution,
                      kinds: list[Kind]) -> list[PoolStatus]:
    """The work pools of the kinds in use as the server has them (or lacks them)."""
    existing = await gateway.read_work_pools()
    return check_pools(resolution.config.settings.work_pools, kinds_in_use(resolution, kinds),
                       {name: pool.type for name, pool in existing.items()})


def kinds_in_use(resolution: Resolution, kinds: list[Kind]) -> list[Kind]:
    """The kinds of ``kinds`` that some deployment of the resolution has: only their pools
    are checked and created (``defaults.kinds: [python]`` needs no docker pool)."""
    used = {spec.kind for spec in resolution.specs}
    return [kind for kind in kinds if kind in used]


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


async def read_pools(resolution: Resolution, kinds: list[Kind]) -> list[PoolStatus]:
    """The work pools of the kinds in use as the server has them (or lacks them)."""
    async with session.gateway(resolution.config) as gateway:
        return await _pools_with(gateway, resolution, kinds)
