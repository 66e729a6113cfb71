"""Rules about a deployment's resources: no more memory or CPU than the environment's
``limits`` allow, and no limit below its request (sizes compared in bytes:
``deploy.resources``)."""

from __future__ import annotations

from deploytasks.deploy.resources import memory_bytes
from deploytasks.deploy.rules.context import SpecContext
from deploytasks.findings import Finding


def resource_limits(context: SpecContext) -> list[Finding]:
    """Memory, then CPU, each above its maximum or its limit below its request."""
    return (memory_above_limit(context) + cpu_above_limit(context)
            + limit_below_request(context))


def memory_above_limit(context: SpecContext) -> list[Finding]:
    """``resources.memory`` (or ``memory_limit``) above ``limits.max_memory``."""
    resources = context.resolved.settings.resources
    limit = context.config.settings.limits.max_memory
    found = []
    for key in ("memory", "memory_limit"):
        memory = getattr(resources, key)
        if memory and limit and memory_bytes(memory) > memory_bytes(limit):
            found.append(context.problem(
                f"resources.{key}",
                f"{memory} is above {context.config.env.name}'s maximum {limit}",
                "ask for less, or raise limits.max_memory", "resources", key))
    return found


def cpu_above_limit(context: SpecContext) -> list[Finding]:
    """``resources.cpu`` (or ``cpu_limit``) above ``limits.max_cpu``."""
    resources = context.resolved.settings.resources
    limit = context.config.settings.limits.max_cpu
    found = []
    for key in ("cpu", "cpu_limit"):
        cpu = getattr(resources, key)
        if cpu and limit and cpu > limit:
            found.append(context.problem(
                f"resources.{key}",
                f"{cpu} CPUs is above {context.config.env.name}'s maximum {limit}",
                "ask for less, or raise limits.max_cpu", "resources", key))
    return found


def limit_below_request(context: SpecContext) -> list[Finding]:
    """``memory_limit`` below ``memory`` or ``cpu_limit`` below ``cpu``: Kubernetes refuses
    such a Job when the worker submits it, long after the deploy."""
    resources = context.resolved.settings.resources
    found = []
    memory, memory_limit = resources.memory, resources.memory_limit
    if memory and memory_limit and memory_bytes(memory_limit) < memory_bytes(memory):
        found.append(_below(context, "memory", memory_limit, memory))
    cpu, cpu_limit = resources.cpu, resources.cpu_limit
    if cpu and cpu_limit and cpu_limit < cpu:
        found.append(_below(context, "cpu", cpu_limit, cpu))
    return found


def _below(context: SpecContext, name: str, limit: object, request: object) -> Finding:
    return context.problem(
        f"resources.{name}_limit", f"the {name} limit {limit} is below the {name} request "
        f"{request}", f"raise resources.{name}_limit to at least {request}, or leave it out "
        "(the request is then the limit too)", "resources", f"{name}_limit")
