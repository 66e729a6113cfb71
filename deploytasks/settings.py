"""The schema of the configuration: what each key means and which values it takes.

Every model forbids unknown keys, so a typo is an error that names the key
instead of a setting silently ignored.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from deploytasks.flows.rules.structure import KEY_PATTERN  # what a flow key may look like

Kind = Literal["python", "docker"]
KINDS: tuple[Kind, ...] = ("python", "docker")
# The work pool types the container kind (docker) runs on: deploy/containers.py maps a
# container run onto each one's job variables.
CONTAINER_POOL_TYPES = ("docker", "kubernetes")
NAME_PLACEHOLDERS = {"flow", "type", "env", "function", "flow_name"}
FLOW_PLACEHOLDERS = ("function", "flow_name")  # tell apart the flows of one folder
LAYOUTS = ("folders", "files")
ENTRYPOINT_PATTERN = re.compile(r"^(?P<path>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
MEMORY_PATTERN = re.compile(r"^\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]?|[bB])?$")
# A project name becomes the tag ``project:<name>`` on everything the tool creates: short,
# lower case, and free of characters that tags, URLs or shells treat specially.
PROJECT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
# Tags the tool sets itself; configuration may not (a flow tagged env:prod would be
# matched by production's cleaning, one tagged project:x would pass for another project's).
RESERVED_TAG_PREFIXES = ("env:", "type:", "project:")
PROJECT_RULE = ("1 to 63 characters: lower-case letters, digits, '.', '_' and '-', "
                "starting with a letter or digit")


def is_reserved_tag(tag: str, ownership_tag: str) -> bool:
    """A tag only deploytasks may set: the ownership tag, or one of the reserved prefixes."""
    return tag == ownership_tag or tag.startswith(RESERVED_TAG_PREFIXES)


class Strict(BaseModel):
    """A section that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class Naming(Strict):
    """How deployments are named: placeholders {flow}, {type}, {env}, {function}, {flow_name}.

    {flow} is the flow's key (folder name, file stem or entrypoint name). When one key
    deploys several flows and the template has neither {function} nor {flow_name},
    {flow} stands for ``<key>-<function>``, so every deployment keeps a name of its own.
    """

    deployment: str = "{flow}-{type}-{env}"

    @field_validator("deployment")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        used = set(re.findall(r"{(\w*)}", value))
        unknown = used - NAME_PLACEHOLDERS
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{flow}}, "
                             "{type}, {env}, {function} and {flow_name}")
        if "flow" not in used:
            raise ValueError("the name must contain {flow}, or all flows would share one name")
        return value


class FlowSource(Strict):
    """One folder of flows and how it is laid out.

    ``folders``: every child folder is a flow (``flows/<name>/workflow.py``), named by
    the folder. ``files``: every file matching the pattern is a flow, named by its stem
    (``flows/etl.py`` → ``etl``); files without a flow are helper modules.
    """

    flows_dir: str = "flows"
    layout: Literal["folders", "files"] = "folders"
    pattern: str = ""  # default: workflow.py for folders, *.py for files
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_pattern(self) -> FlowSource:
        if not self.pattern:
            self.pattern = "workflow.py" if self.layout == "folders" else "*.py"
        return self


class Entrypoint(Strict):
    """One flow named by its entrypoint, ``path/to/file.py:function``, with an optional key."""

    entrypoint: str
    name: str | None = None

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_form(cls, value: str) -> str:
        return _check_entrypoint(value)

    @field_validator("name")
    @classmethod
    def _name_form(cls, value: str | None) -> str | None:
        if value is not None and not KEY_PATTERN.match(value):
            raise ValueError(f"'{value}' cannot name a flow: use letters, digits, '.', '_' "
                             "and '-', starting with a letter or digit")
        return value


def _check_entrypoint(value: str) -> str:
    text = value.strip()
    if not ENTRYPOINT_PATTERN.match(text) or text.startswith("/") or ".." in text.split("/"):
        raise ValueError(f"'{value}' is not an entrypoint: write path/to/file.py:function, "
                         "the path relative to the repository")
    return text


class Discovery(FlowSource):
    """Where flows live: a flows folder, more folders (``also``), explicit entrypoints."""

    also: list[FlowSource] = Field(default_factory=list)
    entrypoints: list[Entrypoint | str] = Field(default_factory=list)

    @field_validator("entrypoints")
    @classmethod
    def _entrypoint_strings(cls, value: list[Entrypoint | str]) -> list[Entrypoint | str]:
        return [item if isinstance(item, Entrypoint) else _check_entrypoint(item)
                for item in value]

    def entries(self) -> list[Entrypoint]:
        """The entrypoints, each as an ``Entrypoint`` (a plain string has no key of its own)."""
        return [item if isinstance(item, Entrypoint) else Entrypoint(entrypoint=item)
                for item in self.entrypoints]

    def sources(self) -> list[FlowSource]:
        """The flows folder, then the ``also`` folders."""
        main = FlowSource(flows_dir=self.flows_dir, layout=self.layout, pattern=self.pattern,
                          exclude=list(self.exclude))
        return [main, *self.also]


class PrefectSettings(Strict):
    """How to reach the Prefect API, and how hard to push it.

    ``max_retry_after`` caps one wait a 429/503 ``Retry-After`` asks for;
    ``wait_budget`` bounds all such waits of one run (seconds)."""

    api_url: str | None = None
    api_key: SecretStr | None = None
    auth_string: SecretStr | None = None
    ui_url: str | None = None
    concurrency: int = Field(default=1, ge=1, le=64)
    retries: int = Field(default=6, ge=0, le=20)
    timeout: float = Field(default=30.0, gt=0)
    max_retry_after: float = Field(default=60.0, gt=0, le=3600)
    wait_budget: float = Field(default=600.0, ge=0)
    ownership_tag: str = "managed-by:deploytasks"


class CleanSettings(Strict):
    """Safety limits of ``deploy.clean``."""

    # --orphans refuses (without --force) to delete more than this share of the project's
    # deployments in scope: a flows folder emptied by mistake must not wipe the project.
    max_orphan_share: float = Field(default=0.5, ge=0, le=1)


class WorkPool(Strict):
    """A work pool deployments of one kind go to; created from the template if missing."""

    name: str
    type: str
    work_queue: str | None = None
    base_job_template: dict[str, Any] = Field(default_factory=dict)


class GitSource(Strict):
    """A git repository workers clone the code from (workers on other machines).

    Workers clone the commit being deployed, not the branch's HEAD; ``branch`` is where
    that commit must already be (pushed) for a protected environment to deploy it.
    A private repository: ``credentials_block`` (a block reference such as
    ``prefect.blocks.github-credentials.ci``) or ``access_token_block`` (the name of a
    Secret block holding a token); the deployment holds only the reference."""

    url: str
    branch: str = "main"
    credentials_block: str | None = None
    access_token_block: str | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> GitSource:
        if self.credentials_block and self.access_token_block:
            raise ValueError("set credentials_block or access_token_block, not both "
                             "(Prefect's git_clone takes one of them)")
        return self


class Source(Strict):
    """Where process workers find the flow code: the repository folder, or a git clone."""

    git: GitSource | None = None
    directory: str | None = None


class DockerSettings(Strict):
    """Image naming, building and the docker work pool's job variables."""

    registry: str = ""
    namespace: str = "deploytasks"
    tag: str = "latest"
    base_image: str = "deploytasks/prefect-base:3.9.1-python3.11"
    build_args: dict[str, str] = Field(default_factory=dict)
    parallelism: int = Field(default=2, ge=1, le=16)
    username: str | None = None
    password: SecretStr | None = None
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    network_mode: str | None = None
    workdir: str = "/opt/prefect"
    # The Dockerfile of flows without one of their own (repository-relative); None: the
    # repository's root Dockerfile, when there is one. Built with the repository as context.
    dockerfile: str | None = None

    @field_validator("dockerfile")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError(f"'{value}' must be a path inside the repository, e.g. Dockerfile")
        return value


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


class Limits(Strict):
    """The most one deployment may ask for in this environment."""

    max_memory: str | None = None
    max_cpu: float | None = Field(default=None, gt=0)

    @field_validator("max_memory")
    @classmethod
    def _memory_format(cls, value: str | None) -> str | None:
        return Resources._memory_format(value)


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


class EnvironmentInfo(Strict):
    """An environment: its short name (used in deployment names) and safety."""

    short_name: str
    aliases: list[str] = Field(default_factory=list)
    protected: bool = False


def _default_pools() -> dict[Kind, WorkPool]:
    return {
        "python": WorkPool(name="python-pool", type="process"),
        "docker": WorkPool(name="docker-pool", type="docker"),
    }


def _default_environments() -> dict[str, EnvironmentInfo]:
    return {
        "development": EnvironmentInfo(short_name="dev"),
        "staging": EnvironmentInfo(short_name="staging", aliases=["stage"]),
        "production": EnvironmentInfo(short_name="prod", protected=True),
    }


class Settings(Strict):
    """The whole merged configuration of one environment."""

    project: str = ""

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        if not value:
            raise ValueError("the project name is missing; every repository sharing a Prefect "
                             f"server needs its own (project: my-team-flows; {PROJECT_RULE})")
        if not PROJECT_PATTERN.match(value):
            raise ValueError(f"not a valid project name: {PROJECT_RULE}")
        return value

    naming: Naming = Field(default_factory=Naming)
    discovery: Discovery = Field(default_factory=Discovery)
    prefect: PrefectSettings = Field(default_factory=PrefectSettings)
    work_pools: dict[Kind, WorkPool] = Field(default_factory=_default_pools)
    docker: DockerSettings = Field(default_factory=DockerSettings)
    source: Source = Field(default_factory=Source)
    limits: Limits = Field(default_factory=Limits)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    defaults: FlowSettings = Field(default_factory=FlowSettings)
    flows: dict[str, FlowSettings] = Field(default_factory=dict)
    environments: dict[str, EnvironmentInfo] = Field(default_factory=_default_environments)

    @field_validator("work_pools")
    @classmethod
    def _every_kind(cls, value: dict[Kind, WorkPool]) -> dict[Kind, WorkPool]:
        """A configuration that names one kind's pool keeps the other kind's default; the
        container kind's pool is of a type deploytasks maps a container run onto."""
        pools = {**_default_pools(), **value}
        if pools["docker"].type not in CONTAINER_POOL_TYPES:
            raise ValueError(
                f"work_pools.docker.type '{pools['docker'].type}' is not a container work pool "
                f"type deploytasks supports: use {' or '.join(CONTAINER_POOL_TYPES)}")
        return pools


SECRET_PATHS = {("prefect", "api_key"), ("prefect", "auth_string"), ("docker", "password")}
