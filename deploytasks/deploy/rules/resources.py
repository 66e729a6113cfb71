"""Rules about a deployment's resources: no more memory or CPU than the environment's
``limits`` allow (sizes compared in bytes: ``deploy.resources``)."""

from __future__ import annotations

from deploytasks.deploy.resources import memory_bytes
from deploytasks.deploy.rules.context import SpecContext
from deploytasks.findings import Finding


def resource_limits(context: SpecContext) -> list[Finding]:
    """Memory, then CPU, each above its maximum."""
    return memory_above_limit(context) + cpu_above_limit(context)


def memory_above_limit(context: SpecContext) -> list[Finding]:
    """``resources.memory`` above ``limits.max_memory``."""
    memory = context.resolved.settings.resources.memory
    limit = context.config.settings.limits.max_memory
    if not (memory and limit and memory_bytes(memory) > memory_bytes(limit)):
        return []
    return [context.problem(
        "resources.memory", f"{memory} is above {context.config.env.name}'s maximum {limit}",
        "ask for less, or raise limits.max_memory", "resources", "memory")]


def cpu_above_limit(context: SpecContext) -> list[Finding]:
    """``resources.cpu`` above ``limits.max_cpu``."""
    cpu = context.resolved.settings.resources.cpu
    limit = context.config.settings.limits.max_cpu
    if not (cpu and limit and cpu > limit):
        return []
    return [context.problem(
        "resources.cpu", f"{cpu} CPUs is above {context.config.env.name}'s maximum {limit}",
        "ask for less, or raise limits.max_cpu", "resources", "cpu")]
