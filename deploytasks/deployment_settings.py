"""What one deployment may set: the sections of a template, of ``defaults``, of a flow and
of an environment's flows (resources, container, schedules, concurrency, triggers, ...).

``settings`` holds the repository-wide sections and the whole file; the base of every
section (``Strict``: unknown keys are errors) and the deployment kinds live here, where
the deployment sections need them first.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["python", "docker"]
KINDS: tuple[Kind, ...] = ("python", "docker")
MEMORY_PATTERN = re.compile(r"^\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?$")


class Strict(BaseModel):
    """A section that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class Resources(Strict):
    """Resources of a deployment's runs: memory like 512Mi or 2g, CPU in cores.

    ``memory`` and ``cpu`` are the requests, and the limits unless ``memory_limit`` and
    ``cpu_limit`` are set (a Docker container has limits only: it gets the limits)."""

    memory: str | None = None
    cpu: float | None = Field(default=None, gt=0)
    memory_limit: str | None = None
    cpu_limit: float | None = Field(default=None, gt=0)

    @field_validator("memory", "memory_limit")
    @classmethod
    def _memory_format(cls, value: str | None) -> str | None:
        if value is not None and not MEMORY_PATTERN.match(value):
            raise ValueError(f"'{value}' is not a memory size; write e.g. 512Mi, 2Gi or 1g")
        return value


class ContainerSettings(Strict):
    """What a container deployment's run gets besides its image and resources, on every
    pool type that has it: ``namespace`` and ``service_account`` are Kubernetes'."""

    command: str | None = None  # None: the worker's own (python -m prefect.engine)
    namespace: str | None = None
    service_account: str | None = None


SLUG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ScheduleSpec(Strict):
    """One schedule: exactly one of cron, interval (seconds) or rrule.

    As in prefect.yaml, a schedule may give its runs ``parameters`` (over the
    deployment's), a ``slug`` (its stable identity: a schedule with a slug is updated in
    place when its value changes, keeping a pause made in the UI), an interval's
    ``anchor_date`` and a cron's ``day_or``."""

    cron: str | None = None
    interval: float | None = Field(default=None, gt=0)
    rrule: str | None = None
    timezone: str | None = None
    active: bool | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    slug: str | None = None
    anchor_date: datetime | None = None
    day_or: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleSpec:
        given = [k for k in ("cron", "interval", "rrule") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a schedule needs exactly one of cron, interval or rrule")
        if self.anchor_date is not None and self.interval is None:
            raise ValueError("anchor_date belongs to interval schedules (cron and rrule "
                             "schedules have none)")
        if self.day_or is not None and self.cron is None:
            raise ValueError("day_or belongs to cron schedules")
        return self

    @field_validator("slug")
    @classmethod
    def _slug_form(cls, value: str | None) -> str | None:
        if value is not None and not SLUG_PATTERN.match(value):
            raise ValueError(f"'{value}' cannot be a slug: use letters, digits, '.', '_' and "
                             "'-' (at most 100), starting with a letter or digit")
        return value


CollisionStrategy = Literal["ENQUEUE", "CANCEL_NEW"]


class ConcurrencyLimit(Strict):
    """At most ``limit`` runs of a deployment at once, as prefect.yaml writes it: an integer,
    or ``{limit, collision_strategy, grace_period_seconds}``. ``collision_strategy`` says what
    a run beyond the limit does (ENQUEUE waits, CANCEL_NEW is cancelled); the grace period
    is how long a run's infrastructure may take to start before its slot is revoked."""

    limit: int = Field(ge=1)
    collision_strategy: CollisionStrategy | None = None
    grace_period_seconds: int | None = Field(default=None, ge=60, le=86400)

    @model_validator(mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | dict | ConcurrencyLimit):
            raise ValueError("write an integer ≥ 1, or {limit: 1, collision_strategy: "
                             "CANCEL_NEW, grace_period_seconds: 120}")
        return {"limit": value} if isinstance(value, int) else value

    def options(self) -> dict[str, Any] | None:
        """Prefect's ``concurrency_options`` (None when only the limit is set)."""
        if self.collision_strategy is None and self.grace_period_seconds is None:
            return None
        return {"collision_strategy": self.collision_strategy or "ENQUEUE",
                "grace_period_seconds": self.grace_period_seconds}


class DeploymentSettings(Strict):
    """What a template, the defaults, a flow or an environment may set for deployments."""

    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    work_queue: str | None = None
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    schedules_active: bool | None = None

    @field_validator("schedules")
    @classmethod
    def _slugs_unique(cls, value: list[ScheduleSpec]) -> list[ScheduleSpec]:
        slugs = [s.slug for s in value if s.slug is not None]
        twice = sorted({slug for slug in slugs if slugs.count(slug) > 1})
        if twice:
            raise ValueError(f"two schedules have the slug '{twice[0]}': a slug names one "
                             "schedule of the deployment")
        return value

    concurrency_limit: ConcurrencyLimit | None = None
    paused: bool = False  # applied when it changes: a pause made in the UI is kept otherwise
    # prefect.yaml's trigger mappings, one automation each (checked with Prefect's own trigger
    # models when loaded: a bad one is bad configuration; deploy/triggers.py)
    triggers: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("triggers")
    @classmethod
    def _triggers_prefect_accepts(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if value:
            from deploytasks.deploy.triggers import refused

            problem = refused(value)
            if problem:
                raise ValueError(problem)
        return value

    enforce_parameter_schema: bool = True
    resources: Resources = Field(default_factory=Resources)
    env_vars: list[str] = Field(default_factory=list)
    container: ContainerSettings = Field(default_factory=ContainerSettings)


class FlowSettings(DeploymentSettings):
    """Per-flow settings, with optional per-kind sections ``python:`` and ``docker:``."""

    flow: str | list[str] | None = None  # function or flow name; a list deploys each
    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS))
    required_env: list[str] = Field(default_factory=list)
    python: DeploymentSettings | None = None
    docker: DeploymentSettings | None = None

    @field_validator("flow")
    @classmethod
    def _flow_names(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            if not value or any(not item.strip() for item in value):
                raise ValueError("list at least one function or flow name, none of them empty")
            twice = sorted({item for item in value if value.count(item) > 1})
            if twice:
                raise ValueError(f"'{twice[0]}' is listed twice")
        return value

    def selected(self) -> tuple[str, ...]:
        """The functions or flow names this flow's key deploys (empty: the entry flow)."""
        if self.flow is None:
            return ()
        return (self.flow,) if isinstance(self.flow, str) else tuple(self.flow)
