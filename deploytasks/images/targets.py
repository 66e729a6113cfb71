"""Which flows have an image, and the settings every image command shares.

A flow folder "has an image" when it holds a ``Dockerfile``. ``find_targets``
is the one place that decides it, so flow discovery can replace the folder
listing without touching build, push or pull.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from deploytasks.errors import ConfigError, UsageError
from deploytasks.images.content import ImageName, InvalidReference, image_name, validate_tag

if TYPE_CHECKING:
    from deploytasks.config import ResolvedConfig

DOCKERFILE = "Dockerfile"
BUILD_ARG_PREFIX = "DOCKER_BUILD_ARG_"


@dataclass(frozen=True)
class ImageTarget:
    """A flow folder with a Dockerfile."""

    flow: str
    folder: Path
    dockerfile: str = DOCKERFILE


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

    def args_for(self, flow: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Build args: configuration, then ``DOCKER_BUILD_ARG_<NAME>``, then BASE_IMAGE/FLOW_NAME.

        BASE_IMAGE and FLOW_NAME are always set last: the content tag and the
        Dockerfile contract depend on them.
        """
        env = os.environ if environ is None else environ
        args = dict(self.build_args)
        for key, value in env.items():
            if key.startswith(BUILD_ARG_PREFIX) and key != BUILD_ARG_PREFIX:
                args[key.removeprefix(BUILD_ARG_PREFIX)] = value
        args["BASE_IMAGE"] = self.base_image
        args["FLOW_NAME"] = flow
        return args


def find_targets(root: Path, flows_dir: str, only: Sequence[str] = ()) -> list[ImageTarget]:
    """The flow folders under ``root/flows_dir`` that hold a Dockerfile, by name.

    ``only`` narrows to named flows; a name without a Dockerfile is a usage error.
    """
    base = root / flows_dir
    found = sorted(p.parent for p in base.glob(f"*/{DOCKERFILE}") if p.is_file())
    targets = [ImageTarget(folder.name, folder) for folder in found]
    if not only:
        return targets
    known = {t.flow: t for t in targets}
    unknown = [name for name in only if name not in known]
    if unknown:
        listed = ", ".join(known) or "none"
        raise UsageError(f"no Dockerfile for flow '{unknown[0]}' under {flows_dir}/",
                         where="--flow", hint=f"flows with an image: {listed}")
    return [known[name] for name in dict.fromkeys(only)]


def split_names(value: str | None) -> list[str]:
    """``--flow a,b`` (or ``FLOW=a,b``) as a list of names."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
