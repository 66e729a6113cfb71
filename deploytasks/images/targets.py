"""Which flows have an image, and the settings every image command shares.

A flow "has an image" when its folder holds a ``Dockerfile``, or when it is
deployed as a container and the repository has a shared Dockerfile (the root
``Dockerfile``, or ``docker.dockerfile``), which builds with the whole repository as
its context. ``flow_targets`` decides it from flow discovery, in every layout, and
narrows to what ``--flow`` selects (``flows.selection``); ``find_targets`` lists the
guide's layout alone (``flows/<name>/Dockerfile``, for benchmarks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from deploytasks.errors import ConfigError, DeployTasksError, UsageError
from deploytasks.images.content import ImageName, InvalidReference, image_name, validate_tag

if TYPE_CHECKING:
    from deploytasks.config import ResolvedConfig
    from deploytasks.flows.discovery import FlowSpec

DOCKERFILE = "Dockerfile"
BUILD_ARG_PREFIX = "DOCKER_BUILD_ARG_"


# Never image inputs, and rewritten by every run: left out of a repository-wide context.
OWN_STATE = ("build", ".deploytasks")


@dataclass(frozen=True)
class ImageTarget:
    """A flow key with a Dockerfile: its build context and the Dockerfile inside it."""

    flow: str
    folder: Path  # the build context
    dockerfile: str = DOCKERFILE  # relative to the context
    shared: bool = False  # the repository's shared Dockerfile, the repository as context

    @property
    def exclude(self) -> tuple[str, ...]:
        """Patterns left out of the context besides its .dockerignore (deploytasks' own state
        when the context is the repository)."""
        return OWN_STATE if self.shared else ()


@dataclass(frozen=True)
class ImageOptions:
    """The docker settings of one run, after configuration, environment and options."""

    root: Path
    flows_dir: str
    registry: str
    namespace: str
    tag: str
    base_image: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    parallelism: int = 2
    username: str | None = None
    password: str | None = None
    no_cache: bool = False

    @classmethod
    def from_config(cls, cfg: ResolvedConfig) -> ImageOptions:
        """Read ``cfg.settings.docker``; reject a registry or tag Docker would refuse (exit 2)."""
        docker = cfg.settings.docker
        password = docker.password.get_secret_value() if docker.password else None
        options = cls(cfg.root, cfg.settings.discovery.flows_dir, docker.registry.strip(),
                      docker.namespace, docker.tag, docker.base_image, dict(docker.build_args),
                      docker.parallelism, docker.username or None, password)
        options.validate()
        return options

    def validate(self) -> None:
        """Check the parts every image name shares, so one bad setting is one error."""
        try:
            validate_tag(self.tag)
            image_name("probe", registry=self.registry, namespace=self.namespace, tag=self.tag)
        except InvalidReference as error:
            raise ConfigError(str(error), where="docker.registry / docker.namespace / docker.tag",
                              hint="fix --registry, DOCKER_REGISTRY, DOCKER_NAMESPACE or "
                                   "DOCKER_TAG") from None

    def name(self, flow: str) -> ImageName:
        """The image name of ``flow`` (``InvalidReference`` for a folder name Docker refuses)."""
        return image_name(flow, registry=self.registry, namespace=self.namespace, tag=self.tag)

    def registry_host(self) -> str:
        """The host[:port] to log in to: the registry setting without its path."""
        return self.registry.split("/", 1)[0]

    def require_registry(self) -> str:
        """The registry host, or a usage error when only local images are configured."""
        if not self.registry:
            raise UsageError("no registry configured: images are local only",
                             where="docker.registry",
                             hint="pass --registry, REGISTRY=… to make, or set DOCKER_REGISTRY")
        return self.registry_host()

    def args_for(self, flow: str, environ: Mapping[str, str] | None = None, *,
                 shared: bool = False) -> dict[str, str]:
        """Build args: configuration, then ``DOCKER_BUILD_ARG_<NAME>``, then BASE_IMAGE/FLOW_NAME.

        BASE_IMAGE and FLOW_NAME are always set last: the content tag and the
        Dockerfile contract depend on them. A shared Dockerfile gets no FLOW_NAME: its
        image holds the whole repository, the same for every flow, so it is built once.
        """
        env = os.environ if environ is None else environ
        args = dict(self.build_args)
        for key, value in env.items():
            if key.startswith(BUILD_ARG_PREFIX) and key != BUILD_ARG_PREFIX:
                args[key.removeprefix(BUILD_ARG_PREFIX)] = value
        args["BASE_IMAGE"] = self.base_image
        if shared:
            args.pop("FLOW_NAME", None)
        else:
            args["FLOW_NAME"] = flow
        return args


def find_targets(root: Path, flows_dir: str) -> list[ImageTarget]:
    """The flow folders under ``root/flows_dir`` that hold a Dockerfile, by name (no
    discovery: the guide's layout only)."""
    base = root / flows_dir
    found = sorted(p.parent for p in base.glob(f"*/{DOCKERFILE}") if p.is_file())
    return [ImageTarget(folder.name, folder) for folder in found]


def flow_targets(cfg: ResolvedConfig, only: Sequence[str] = ()) -> list[ImageTarget]:
    """Every flow key with an image, in every layout; ``only`` narrows to what the
    ``--flow`` names select, and a name that selects no flow with an image is a usage error."""
    from deploytasks.flows.commands import discovery_options
    from deploytasks.flows.discovery import discover
    from deploytasks.flows.selection import select_flows

    specs = discover(cfg.root, discovery_options(cfg))
    targets = {t.flow: t for spec in specs if (t := _target(cfg, spec)) is not None}
    if not only:
        return list(targets.values())
    chosen: dict[str, ImageTarget] = {}
    for name in only:
        keys = [spec.folder for spec in select_flows(cfg.root, specs, name)]
        if not keys or not all(key in targets for key in keys):
            listed = ", ".join(targets) or "none"
            raise UsageError(f"no Dockerfile for flow '{name}' (neither its own nor a shared one)",
                             where="--flow", hint=f"flows with an image: {listed}")
        chosen.update({key: targets[key] for key in keys})
    return list(chosen.values())


def _target(cfg: ResolvedConfig, spec: FlowSpec) -> ImageTarget | None:
    files = spec.files
    if not files.dockerfile or files.context is None:
        return None
    if not files.shared_dockerfile:
        return ImageTarget(spec.folder, cfg.root / files.context,
                           files.dockerfile.rsplit("/", 1)[-1])
    try:
        kinds = cfg.flow_settings(spec.folder).kinds
    except DeployTasksError:
        kinds = ["docker"]  # the configuration error is reported where it is used
    if "docker" not in kinds:
        return None  # a Python-only flow needs no image of the shared Dockerfile
    return ImageTarget(spec.folder, cfg.root, files.dockerfile, shared=True)
