"""What the deploy side needs to know about a flow's image: its names and where it is.

``image_for_flow`` reads only configuration and the manifest (no engine), so
planning a docker deployment stays free; ``locate_image`` asks the engine and
then the registry, for the checks that run before deployments are applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from deploytasks.images.manifest import Manifest
from deploytasks.images.targets import ImageOptions

if TYPE_CHECKING:
    from deploytasks.config import ResolvedConfig
    from deploytasks.images.docker_api import Engine

Location = Literal["local", "registry", "missing"]


@dataclass(frozen=True)
class ImageRef:
    """A flow's image: the mutable name, the content-tagged name and the pushed digest."""

    flow: str
    image: str
    repository: str
    registry: str
    content_image: str | None = None
    digest: str | None = None

    @property
    def pinned(self) -> str:
        """The most exact reference known: ``repo@digest``, else the content tag, else the tag."""
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return self.content_image or self.image


def image_for_flow(cfg: ResolvedConfig, flow_folder: str) -> ImageRef:
    """The image of ``flow_folder`` under ``cfg``, with what the manifest recorded for it.

    The content tag and digest are only taken when the manifest's record was
    built for the same repository (same registry and namespace).
    """
    options = ImageOptions.from_config(cfg)
    name = options.name(flow_folder)
    record = Manifest.load(cfg.root).get(flow_folder, name.repository)
    content = record.content_image if record else None
    digest = record.digest if record else None
    return ImageRef(flow_folder, name.ref, name.repository, options.registry, content, digest)


def locate_image(ref: ImageRef, engine: Engine | None = None) -> Location:
    """Where ``ref`` can be had: the local engine, its registry, or nowhere.

    Raises ``ServiceUnavailable`` when the engine (or the registry) does not answer.
    """
    from deploytasks.images import docker_api

    engine = engine or docker_api.connect()
    candidates = [r for r in (ref.content_image, ref.image) if r]
    if any(engine.image_id(candidate) is not None for candidate in candidates):
        return "local"
    if not ref.registry:
        return "missing"
    host = ref.registry.split("/", 1)[0]
    for candidate in candidates:
        if engine.registry_digest(candidate, host) is not None:
            return "registry"
    return "missing"
