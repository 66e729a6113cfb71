"""Work pools: are the configured ones there with the right type, and how to create them.

A missing pool is created from the worker type's default base job template
with the configured overrides merged on top. An existing pool is never
changed: a pool of the wrong type is a problem to report, not to fix
(``rules.pools``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

from deploytasks.deploy.rules.pools import uncreatable_pool, wrong_pool_type
from deploytasks.deployment_settings import Kind
from deploytasks.errors import UsageError
from deploytasks.findings import Finding
from deploytasks.settings import WorkPool

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
        problem = wrong_pool_type(kind, pool.name, pool.type, actual)
        if state == "missing" and not worker_package_installed(pool.type):
            problem = uncreatable_pool(kind, pool.name, *missing_worker_package(pool.type))
        statuses.append(PoolStatus(kind, pool.name, pool.type, state, actual, problem))
    return statuses


def base_job_template(pool: WorkPool) -> dict[str, Any]:
    """The worker type's default template with the configured overrides merged in.

    An override of a job configuration key the type's worker does not have is refused:
    overrides of a docker pool (``auto_remove``) set in the main file would otherwise
    reach the kubernetes pool an environment names, and its worker would fail every run."""
    template = _default_template(pool.type)
    known = set(template.get("job_configuration") or {})
    unknown = sorted(set(pool.base_job_template.get("job_configuration") or {}) - known)
    if template and unknown:
        raise UsageError(
            f"base_job_template.job_configuration of work pool '{pool.name}' sets "
            f"{', '.join(unknown)}, which a {pool.type} worker's job configuration does not "
            "have", hint="set those overrides only where the pool has the type that knows "
            "them (e.g. in one environment's file), or remove them")
    return _merged(template, pool.base_job_template)


# The package whose worker reads each pool type, and the extra that installs it.
WORKER_PACKAGES = {"process": ("prefect", "prefect"),
                   "docker": ("prefect_docker", "prefect-docker"),
                   "kubernetes": ("prefect_kubernetes", "deploytasks[kubernetes]")}


def _default_template(pool_type: str) -> dict[str, Any]:
    """The base job template the pool type's own worker defines (what ``prefect work-pool
    create --type T`` uses)."""
    if pool_type == "process":
        from prefect.workers.process import ProcessWorker

        return ProcessWorker.get_default_base_job_template()
    if pool_type == "docker":
        from prefect_docker.worker import DockerWorker

        return DockerWorker.get_default_base_job_template()
    if pool_type == "kubernetes":
        try:
            from prefect_kubernetes.worker import KubernetesWorker
        except ImportError:
            message, hint = missing_worker_package(pool_type)
            raise UsageError(message, hint=hint) from None
        return KubernetesWorker.get_default_base_job_template()
    return {}


def worker_package_installed(pool_type: str) -> bool:
    """Whether the package with the pool type's worker (and template) is importable."""
    module = WORKER_PACKAGES.get(pool_type, (None, None))[0]
    return module is None or importlib.util.find_spec(module) is not None


def missing_worker_package(pool_type: str) -> tuple[str, str]:
    """(message, hint) for a pool that cannot be created: its worker package is missing."""
    module, install = WORKER_PACKAGES[pool_type]
    return (f"a {pool_type} work pool is created from {module}'s base job template, "
            f"but {module} is not installed",
            f"install it: pip install '{install}'")


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result
