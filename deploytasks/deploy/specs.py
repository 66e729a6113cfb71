"""From a flow, the configuration, an environment and a kind to a complete deployment.

``build_spec`` is a pure function: everything it needs (the flow read from
source, the resolved settings, the version, the image, the parameter schema)
comes in as arguments, and the same spec is what ``build`` writes, ``test``
plans and ``deploy`` sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as tz
from typing import Any

from deploytasks.config import ResolvedConfig
from deploytasks.deploy import fields, schedule_items
from deploytasks.deploy.containers import container_run, job_variables
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.secret_blocks import SecretValue, block_name, reference
from deploytasks.deploy.triggers import named as named_triggers
from deploytasks.deployment_settings import DeploymentSettings, Kind, ScheduleSpec
from deploytasks.flows.discovery import FlowSpec
from deploytasks.settings import FLOW_PLACEHOLDERS

SET_WORKING_DIRECTORY = "prefect.deployments.steps.set_working_directory"
GIT_CLONE = "prefect.deployments.steps.git_clone"
DEFAULT_QUEUE = "default"  # what the server assigns when none is given


@dataclass(frozen=True)
class Schedule:
    """One schedule as the server stores it: cron, interval (seconds) or rrule, with the
    parameters its runs get, its slug, an interval's anchor (ISO 8601, UTC) and a cron's
    ``day_or``."""

    kind: str
    value: str | float
    timezone: str | None
    active: bool
    parameters: dict[str, Any] = field(default_factory=dict)
    slug: str | None = None
    anchor_date: str | None = None
    day_or: bool = True

    def identity(self) -> tuple[str, str, str | None]:
        """Its value: kind, value and timezone, whatever its state and extras."""
        return (self.kind, str(float(self.value)) if self.kind == "interval" else str(self.value),
                self.timezone)

    def compared(self) -> schedule_items.Item:
        """What makes two schedules the same schedule, whatever their active state."""
        return schedule_items.item_of(*self.identity(), {
            "parameters": self.parameters, "slug": self.slug, "anchor_date": self.anchor_date,
            "day_or": self.day_or})

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {self.kind: self.value, "timezone": self.timezone,
                                    "active": self.active}
        extras = {"parameters": self.parameters, "slug": self.slug,
                  "anchor_date": self.anchor_date, "day_or": self.day_or}
        document.update({key: value for key, value in extras.items()
                         if value not in (None, {}) and not (key == "day_or" and value)})
        return document


@dataclass(frozen=True)
class NameParts:
    """What a deployment name is made of besides the kind and the environment."""

    key: str  # {flow}: the folder name, file stem or entrypoint name
    function: str | None = None  # {function}
    flow_name: str | None = None  # {flow_name}
    several: bool = False  # the key deploys more than one flow

    @classmethod
    def of(cls, flow: FlowSpec) -> NameParts:
        """The parts of a discovered flow."""
        return cls(flow.folder, flow.function, flow.name, flow.several)


@dataclass(frozen=True)
class DeploymentSpec:
    """Everything the server should hold for one deployment.

    Besides its identity (name, flow, kind, environment), the image and the notes,
    each attribute is a deployment field with its row in ``fields.FIELDS``, which says
    how it is compared, sent, read back and written (a unit test keeps the two in
    step). A new field takes a default here, so that specs made without it stay valid.
    """

    name: str
    flow_folder: str
    flow_name: str
    kind: Kind
    environment: str
    entrypoint: str
    work_pool: str
    work_queue: str
    description: str | None
    version: str | None
    tags: tuple[str, ...]
    parameters: dict[str, Any]
    parameter_schema: dict[str, Any]
    job_variables: dict[str, Any]
    schedules: tuple[Schedule, ...]
    concurrency_limit: int | None
    enforce_parameter_schema: bool
    pull_steps: tuple[dict[str, Any], ...]
    concurrency_options: dict[str, Any] | None = None  # collision strategy, grace period
    paused: bool = False
    triggers: tuple[dict[str, Any], ...] = ()  # prefect.yaml's trigger mappings, each named
    image: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)
    parts: NameParts | None = field(default=None, compare=False)
    # the values its env references, each in a Secret block (never in a document)
    secrets: tuple[SecretValue, ...] = field(default=(), compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """Deployments are unique by flow name and deployment name on the server."""
        return (self.flow_name, self.name)

    def comparable(self) -> dict[str, Any]:
        """The fields the plan compares with the server, as plain data (``fields.py``)."""
        return fields.comparable(self)

    def to_document(self) -> dict[str, Any]:
        """The whole spec as plain data (``build`` writes it, ``--json`` prints it)."""
        return fields.document_fields(self, {
            "name": self.name, "flow": self.flow_folder, "flow_name": self.flow_name,
            "type": self.kind, "environment": self.environment, "image": self.image})


@dataclass(frozen=True)
class SpecInputs:
    """What ``build_spec`` needs beyond the configuration and the flow."""

    version: str | None = None
    image: str | None = None
    parameter_schema: dict[str, Any] = field(default_factory=dict)
    env_values: dict[str, str] = field(default_factory=dict)
    commit: str | None = None  # what workers clone with ``source.git`` (None: the branch)


def deployment_name(config: ResolvedConfig, flow: str | NameParts | FlowSpec, kind: Kind) -> str:
    """``{flow}-{type}-{env}`` (or the configured template) for one deployment.

    When the flow's key deploys several flows and the template tells them apart by
    neither ``{function}`` nor ``{flow_name}``, ``{flow}`` becomes ``<key>-<function>``.
    """
    parts = flow if isinstance(flow, NameParts) else (
        NameParts(flow) if isinstance(flow, str) else NameParts.of(flow))
    template = config.settings.naming.deployment
    key = parts.key
    if parts.several and parts.function and not _distinguishes(template):
        key = f"{parts.key}-{parts.function}"
    return template.format(flow=key, type=kind, env=config.env.short,
                           function=parts.function or "", flow_name=parts.flow_name or "")


def _distinguishes(template: str) -> bool:
    return bool(set(re.findall(r"{(\w*)}", template)) & set(FLOW_PLACEHOLDERS))


def build_spec(config: ResolvedConfig, flow: FlowSpec, kind: Kind, settings: DeploymentSettings,
               accepted: set[str] | None, inputs: SpecInputs,
               default_parameter_names: set[str]) -> DeploymentSpec:
    """The complete deployment of ``flow`` as ``kind`` in the configuration's environment.

    ``accepted`` is the set of parameter names the flow takes (None: any, it has
    ``**kwargs``). Parameters that came only from ``defaults`` sections are
    dropped where the flow does not accept them, so one default can serve many
    flows; a flow's own parameters are checked by validation instead.
    """
    parameters, notes = _parameters(settings.parameters, accepted, default_parameter_names)
    pool = config.settings.work_pools[kind]
    secrets = _secrets(config, flow.folder, settings, inputs)
    assert flow.entrypoint and flow.name, "build_spec takes valid flows only"
    name = deployment_name(config, flow, kind)
    return DeploymentSpec(
        name=name,
        flow_folder=flow.folder,
        flow_name=flow.name,
        kind=kind,
        environment=config.env.name,
        entrypoint=flow.entrypoint,
        work_pool=pool.name,
        work_queue=settings.work_queue or pool.work_queue or DEFAULT_QUEUE,
        # "" rather than None: Prefect's client sends None as the text "None"
        description=settings.description or flow.description or "",
        version=inputs.version,
        tags=_tags(config, flow, kind, settings),
        parameters=parameters,
        parameter_schema=inputs.parameter_schema,
        job_variables=_job_variables(config, kind, settings, inputs, secrets),
        schedules=tuple(_schedule(s, settings, config) for s in settings.schedules),
        pull_steps=_pull_steps(config, kind, inputs.commit),
        triggers=named_triggers(name, settings.triggers),
        image=inputs.image if kind == "docker" else None,
        notes=tuple(notes),
        parts=NameParts.of(flow),
        secrets=secrets,
        **fields.configured(settings),
    )


def _parameters(configured: dict[str, Any], accepted: set[str] | None,
                from_defaults: set[str]) -> tuple[dict[str, Any], list[str]]:
    if accepted is None:
        return dict(configured), []
    kept: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in configured.items():
        if name in accepted or name not in from_defaults:
            kept[name] = value
        else:
            notes.append(f"default parameter '{name}' skipped: the flow does not take it")
    return kept, notes


def _tags(config: ResolvedConfig, flow: FlowSpec, kind: Kind,
          settings: DeploymentSettings) -> tuple[str, ...]:
    reserved = ownership(config).deployment_tags(config.env.short, kind)
    extra = sorted({*settings.tags, *flow.tags} - set(reserved))
    return (*reserved, *extra)


def _secrets(config: ResolvedConfig, flow: str, settings: DeploymentSettings,
             inputs: SpecInputs) -> tuple[SecretValue, ...]:
    """The ``env_vars`` values found, each with the Secret block that holds it."""
    project, env = config.settings.project, config.env.short
    return tuple(SecretValue(block_name(project, env, flow, key), key, inputs.env_values[key])
                 for key in settings.env_vars if key in inputs.env_values)


def _job_variables(config: ResolvedConfig, kind: Kind, settings: DeploymentSettings,
                   inputs: SpecInputs, secrets: tuple[SecretValue, ...]) -> dict[str, Any]:
    """What the worker gets: for a container deployment, its run mapped onto the pool
    type's variables (``containers``); the env references Secret blocks, never values;
    the configured ``job_variables`` win."""
    env = {secret.key: reference(secret.block) for secret in secrets}
    if kind == "docker":
        run = container_run(config.settings.docker, settings, inputs.image, env)
        derived = job_variables(config.settings.work_pools[kind].type, run)
    else:
        derived = {"env": env} if env else {}
    return {**derived, **settings.job_variables}


def _schedule(spec: ScheduleSpec, settings: DeploymentSettings,
              config: ResolvedConfig) -> Schedule:
    if spec.active is not None:
        active = spec.active
    elif settings.schedules_active is not None:
        active = settings.schedules_active
    else:
        active = config.env.protected
    timezone = spec.timezone or "UTC"  # what the server stores when none is given
    extras: dict[str, Any] = {"parameters": dict(spec.parameters), "slug": spec.slug}
    if spec.cron is not None:
        day_or = True if spec.day_or is None else spec.day_or
        return Schedule("cron", spec.cron, timezone, active, **extras, day_or=day_or)
    if spec.interval is not None:
        return Schedule("interval", float(spec.interval), timezone, active, **extras,
                        anchor_date=_utc(spec.anchor_date))
    return Schedule("rrule", str(spec.rrule), timezone, active, **extras)


def _utc(moment: datetime | None) -> str | None:
    """An anchor date as the server stores it: UTC (a date without a zone is UTC, as
    Prefect reads it)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=tz.utc)
    return aware.astimezone(tz.utc).isoformat()


def _pull_steps(config: ResolvedConfig, kind: Kind,
                commit: str | None) -> tuple[dict[str, Any], ...]:
    """Where the worker finds the code: the image's folder, a clone of the commit being
    deployed (Prefect takes a branch or a commit, not both), or this checkout's folder."""
    if kind == "docker":
        return ({SET_WORKING_DIRECTORY: {"directory": config.settings.docker.workdir}},)
    source = config.settings.source
    if source.git is not None:
        step: dict[str, Any] = {"repository": source.git.url}
        step.update({"commit_sha": commit} if commit else {"branch": source.git.branch})
        if source.git.credentials_block:
            step["credentials"] = "{{ " + source.git.credentials_block + " }}"
        if source.git.access_token_block:
            step["access_token"] = ("{{ prefect.blocks.secret."
                                    + source.git.access_token_block + " }}")
        return ({GIT_CLONE: step},)
    directory = source.directory or str(config.root)
    return ({SET_WORKING_DIRECTORY: {"directory": directory}},)
