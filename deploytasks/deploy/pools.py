"""Work pools: are the configured ones there with the right type, and how to create them.

A missing pool is created from the worker type's default base job template
with the configured overrides merged on top. An existing pool is never
changed: a pool of the wrong type is a problem to report, not to fix
(``rules.pools``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from deploytasks.deploy.rules.pools import wrong_pool_type
from deploytasks.findings import Finding
from deploytasks.settings import Kind, WorkPool

PoolState = Literal["ok", "missing", "wrong-type"]


@dataclass(frozen=True)
class PoolStatus:
    """One configured pool compared with the server."""

    kind: Kind
    name: str
    type: str
    state: PoolState
    actual_type: str | None = None
    problem: Finding | None = None  # why deployments cannot use it


def check_pools(pools: dict[Kind, WorkPool], kinds: list[Kind],
                existing: dict[str, str]) -> list[PoolStatus]:
    """Compare the configured pools of ``kinds`` with the server's (name → type)."""
    statuses = []
    for kind in kinds:
        pool = pools[kind]
        actual = existing.get(pool.name)
        state: PoolState = "missing" if actual is None else (
            "ok" if actual == pool.type else "wrong-type")
        statuses.append(PoolStatus(kind, pool.name, pool.type, state, actual,
                                   wrong_pool_type(kind, pool.name, pool.type, actual)))
    return statuses


def base_job_template(pool: WorkPool) -> dict[str, Any]:
    """The worker type's default template with the configured overrides merged in."""
    template = _default_template(pool.type)
    return _merged(template, pool.base_job_template)


def _default_template(pool_type: str) -> dict[str, Any]:
    if pool_type == "process":
        from prefect.workers.process import ProcessWorker

        return ProcessWorker.get_default_base_job_template()
    if pool_type == "docker":
        from prefect_docker.worker import DockerWorker

        return DockerWorker.get_default_base_job_template()
    return {}


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result
