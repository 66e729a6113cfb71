"""Rules about a deployment's parameters: each configured one is a parameter of the flow
and has the type the flow declares, and every required parameter has a value. A
schedule's own ``parameters`` (given to its runs over the deployment's) are held to the
same signature.

Types are checked with ``jsonschema`` against the parameter schema read from the flow's
signature: what Prefect's own validation is built on.
"""

from __future__ import annotations

from typing import Any

from deploytasks.deploy.rules.context import SpecContext
from deploytasks.findings import Finding


def parameter_rules(context: SpecContext) -> list[Finding]:
    """Unknown parameters, then values of the wrong type, then missing required ones; then
    each schedule's parameters."""
    return (unknown_parameters(context) + wrong_types(context) + missing_required(context)
            + schedule_parameters(context))


def unknown_parameters(context: SpecContext, values: dict[str, Any] | None = None,
                       setting: str = "parameters", *path: str) -> list[Finding]:
    """A configured parameter the flow does not take (unless it takes ``**kwargs``)."""
    spec, flow = context.spec, context.flow
    given = spec.parameters if values is None else values
    properties = spec.parameter_schema.get("properties", {})
    if any(p.kind == "var_keyword" for p in flow.parameters):
        return []
    return [context.problem(
        f"{setting}.{name}", f"{flow.function}() has no parameter '{name}'",
        f"remove it, or use one of: {', '.join(properties) or '(none)'}",
        *(path or ("parameters", name)))
        for name in given if name not in properties]


def wrong_types(context: SpecContext, values: dict[str, Any] | None = None,
                setting: str = "parameters", *path: str) -> list[Finding]:
    """A value the flow's parameter schema refuses."""
    from jsonschema import Draft202012Validator  # what Prefect's own validation is built on

    spec = context.spec
    given = spec.parameters if values is None else values
    properties = spec.parameter_schema.get("properties", {})
    known = {k: v for k, v in given.items() if k in properties}
    schema = {k: v for k, v in spec.parameter_schema.items() if k != "required"}
    problems = []
    for error in Draft202012Validator(schema).iter_errors(known):
        name = str(error.path[0]) if error.path else setting
        problems.append(context.problem(f"{setting}.{name}", error.message,
                                        "give a value of the type the flow declares",
                                        *(path or ("parameters", name))))
    return problems


def schedule_parameters(context: SpecContext) -> list[Finding]:
    """A schedule's parameters: each one the flow's, of its type (where: the schedules
    setting's line; a list is set whole by one layer)."""
    problems: list[Finding] = []
    for index, schedule in enumerate(context.spec.schedules):
        if schedule.parameters:
            setting = f"schedules[{index}].parameters"
            problems += unknown_parameters(context, schedule.parameters, setting, "schedules")
            problems += wrong_types(context, schedule.parameters, setting, "schedules")
    return problems


def missing_required(context: SpecContext) -> list[Finding]:
    """A parameter without a default that the configuration gives no value."""
    spec = context.spec
    return [context.problem(
        f"parameters.{p.name}", f"required parameter '{p.name}' has no value",
        f"set flows.{spec.flow_folder}.parameters.{p.name} in the configuration")
        for p in context.flow.parameters if p.required and p.name not in spec.parameters]
