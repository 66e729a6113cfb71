"""The schema of the configuration: what each key means and which values it takes.

Every model forbids unknown keys, so a typo is an error that names the key
instead of a setting silently ignored. This module holds the repository-wide
sections and the whole file; what one deployment may set (a template, the
defaults, a flow) is ``deployment_settings``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from deploytasks.deployment_settings import (  # what one deployment may set
    FlowSettings,
    Kind,
    Resources,
    Strict,
)
from deploytasks.flows.rules.structure import KEY_PATTERN  # what a flow key may look like

# The work pool types the container kind (docker) runs on: deploy/containers.py maps a
# container run onto each one's job variables.
CONTAINER_POOL_TYPES = ("docker", "kubernetes")
NAME_PLACEHOLDERS = {"flow", "type", "env", "function", "flow_name"}
FLOW_PLACEHOLDERS = ("function", "flow_name")  # tell apart the flows of one folder
LAYOUTS = ("folders", "files")
ENTRYPOINT_PATTERN = re.compile(r"^(?P<path>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
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


class Limits(Strict):
    """The most one deployment may ask for in this environment."""

    max_memory: str | None = None
    max_cpu: float | None = Field(default=None, gt=0)

    @field_validator("max_memory")
    @classmethod
    def _memory_format(cls, value: str | None) -> str | None:
        return Resources._memory_format(value)


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
