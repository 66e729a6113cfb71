"""Rules a deployment must pass before anything is written, one module per subject.

- ``skipped``: what leaves a flow or one of its deployments out (an invalid flow, a
  reserved ``@flow`` tag, a setting that cannot be resolved, two flows wanting one name);
- ``parameters``: the configured parameters fit the flow's signature and types;
- ``resources``: memory and CPU within the environment's ``limits``;
- ``schedules``: timezones and cron, interval or rrule values Prefect accepts;
- ``pools``: a configured work pool that exists has the type its kind needs.

Every rule returns ``deploytasks.findings.Finding``s naming the deployment, the setting
and where it was set, and saying what to do; all are collected, none stops the others.
``check_spec`` runs ``SPEC_RULES`` on one resolved spec. A new rule about a deployment
spec is one function in the module of its subject, listed in ``SPEC_RULES`` (and its
message in docs/TROUBLESHOOTING.md, its case in a unit test).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.rules.context import SpecContext
from deploytasks.deploy.rules.parameters import parameter_rules
from deploytasks.deploy.rules.resources import resource_limits
from deploytasks.deploy.rules.schedules import schedule_rules
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.findings import Finding
from deploytasks.flows.model import FlowSpec

__all__ = ["SPEC_RULES", "SpecContext", "check_spec"]

SpecRule = Callable[[SpecContext], list[Finding]]
SPEC_RULES: Sequence[SpecRule] = (parameter_rules, resource_limits, schedule_rules)


def check_spec(config: ResolvedConfig, spec: DeploymentSpec, flow: FlowSpec) -> list[Finding]:
    """Every problem of one deployment spec, from every rule of ``SPEC_RULES``."""
    context = SpecContext(config, spec, flow,
                          config.deployment_settings(spec.flow_folder, spec.kind))
    return [finding for rule in SPEC_RULES for finding in rule(context)]
