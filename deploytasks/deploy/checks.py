"""Checks on resolved deployments that need no write: parameters, resources, schedules.

Each problem names the deployment, the setting and where it was set, and
says what to do. All problems are collected; none stops the others.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import Any

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.resources import memory_bytes
from deploytasks.deploy.specs import DeploymentSpec, Schedule
from deploytasks.flows.discovery import FlowSpec
from deploytasks.settings import Kind


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one deployment."""

    deployment: str
    setting: str
    message: str
    hint: str
    where: str | None = None

    def __str__(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"{self.deployment}: {self.setting}{where}: {self.message} — {self.hint}"

    def to_document(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "setting": self.setting,
                "message": self.message, "hint": self.hint, "where": self.where}


def check_spec(config: ResolvedConfig, spec: DeploymentSpec, flow: FlowSpec) -> list[Problem]:
    """Every problem of one deployment spec."""
    origins = config.deployment_settings(spec.flow_folder, spec.kind).provenance
    problems = _parameter_problems(spec, flow, origins)
    problems += _resource_problems(config, spec.flow_folder, spec.kind, spec.name)
    problems += [p for s in spec.schedules for p in _schedule_problems(spec.name, s)]
    return problems


def _where(origins: dict[tuple[str, ...], Any], *path: str) -> str | None:
    origin = origins.get(path)
    return str(origin) if origin else None


def _parameter_problems(spec: DeploymentSpec, flow: FlowSpec,
                        origins: dict[tuple[str, ...], Any]) -> list[Problem]:
    from jsonschema import Draft202012Validator  # what Prefect's own validation is built on

    properties = spec.parameter_schema.get("properties", {})
    takes_any = any(p.kind == "var_keyword" for p in flow.parameters)
    problems = []
    for name in spec.parameters:
        if name not in properties and not takes_any:
            problems.append(Problem(
                spec.name, f"parameters.{name}", f"{flow.function}() has no parameter '{name}'",
                f"remove it, or use one of: {', '.join(properties) or '(none)'}",
                _where(origins, "parameters", name)))
    known = {k: v for k, v in spec.parameters.items() if k in properties}
    schema = {k: v for k, v in spec.parameter_schema.items() if k != "required"}
    for error in Draft202012Validator(schema).iter_errors(known):
        name = str(error.path[0]) if error.path else "parameters"
        problems.append(Problem(spec.name, f"parameters.{name}", error.message,
                                "give a value of the type the flow declares",
                                _where(origins, "parameters", name)))
    problems += [Problem(spec.name, f"parameters.{p.name}",
                         f"required parameter '{p.name}' has no value",
                         f"set flows.{spec.flow_folder}.parameters.{p.name} in the configuration")
                 for p in flow.parameters if p.required and p.name not in spec.parameters]
    return problems


def _resource_problems(config: ResolvedConfig, flow: str, kind: Kind,
                       name: str) -> list[Problem]:
    resolved = config.deployment_settings(flow, kind)
    resources, limits = resolved.settings.resources, config.settings.limits
    origins = resolved.provenance
    problems = []
    if resources.memory and limits.max_memory and \
            memory_bytes(resources.memory) > memory_bytes(limits.max_memory):
        problems.append(Problem(name, "resources.memory",
                                f"{resources.memory} is above {config.env.name}'s maximum "
                                f"{limits.max_memory}", "ask for less, or raise limits.max_memory",
                                _where(origins, "resources", "memory")))
    if resources.cpu and limits.max_cpu and resources.cpu > limits.max_cpu:
        problems.append(Problem(name, "resources.cpu",
                                f"{resources.cpu} CPUs is above {config.env.name}'s maximum "
                                f"{limits.max_cpu}", "ask for less, or raise limits.max_cpu",
                                _where(origins, "resources", "cpu")))
    return problems


def _schedule_problems(name: str, schedule: Schedule) -> list[Problem]:
    from deploytasks.deploy.prefect_api import to_prefect_schedule

    problems = []
    if schedule.timezone:
        try:
            zoneinfo.ZoneInfo(schedule.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(Problem(name, "schedules.timezone",
                                    f"unknown timezone '{schedule.timezone}'",
                                    "use an IANA name such as Europe/Berlin or UTC"))
            return problems
    try:
        to_prefect_schedule(schedule)
    except ValueError as error:
        message = str(error).splitlines()[-1] if str(error) else "invalid"
        problems.append(Problem(name, f"schedules.{schedule.kind}",
                                f"'{schedule.value}' is not a valid {schedule.kind}: {message}",
                                "fix the schedule (cron: five fields, e.g. '0 6 * * 1-5')"))
    return problems
