"""Rules about a deployment's parameters: each configured one is a parameter of the flow
and has the type the flow declares, and every required parameter has a value.

Types are checked with ``jsonschema`` against the parameter schema read from the flow's
signature: what Prefect's own validation is built on.
"""

from __future__ import annotations

from deploytasks.deploy.rules.context import SpecContext
from deploytasks.findings import Finding


def parameter_rules(context: SpecContext) -> list[Finding]:
    """Unknown parameters, then values of the wrong type, then missing required ones."""
    return unknown_parameters(context) + wrong_types(context) + missing_required(context)


def unknown_parameters(context: SpecContext) -> list[Finding]:
    """A configured parameter the flow does not take (unless it takes ``**kwargs``)."""
    spec, flow = context.spec, context.flow
    properties = spec.parameter_schema.get("properties", {})
    if any(p.kind == "var_keyword" for p in flow.parameters):
        return []
    return [context.problem(
        f"parameters.{name}", f"{flow.function}() has no parameter '{name}'",
        f"remove it, or use one of: {', '.join(properties) or '(none)'}", "parameters", name)
        for name in spec.parameters if name not in properties]


def wrong_types(context: SpecContext) -> list[Finding]:
    """A value the flow's parameter schema refuses."""
    from jsonschema import Draft202012Validator  # what Prefect's own validation is built on

    spec = context.spec
    properties = spec.parameter_schema.get("properties", {})
    known = {k: v for k, v in spec.parameters.items() if k in properties}
    schema = {k: v for k, v in spec.parameter_schema.items() if k != "required"}
    problems = []
    for error in Draft202012Validator(schema).iter_errors(known):
        name = str(error.path[0]) if error.path else "parameters"
        problems.append(context.problem(f"parameters.{name}", error.message,
                                        "give a value of the type the flow declares",
                                        "parameters", name))
    return problems


def missing_required(context: SpecContext) -> list[Finding]:
    """A parameter without a default that the configuration gives no value."""
    spec = context.spec
    return [context.problem(
        f"parameters.{p.name}", f"required parameter '{p.name}' has no value",
        f"set flows.{spec.flow_folder}.parameters.{p.name} in the configuration")
        for p in context.flow.parameters if p.required and p.name not in spec.parameters]
