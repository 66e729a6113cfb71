"""Which image a docker deployment runs: the flow's image as the images collection names it."""

from __future__ import annotations

from deploytasks.config import ResolvedConfig
from deploytasks.flows.discovery import FlowSpec


def image_for(config: ResolvedConfig, flow: FlowSpec) -> str:
    """``{registry}/{namespace}/{flow}-worker:{tag}`` (no registry part when it is empty)."""
    docker = config.settings.docker
    parts = [docker.registry.strip("/"), docker.namespace.strip("/"), f"{flow.folder}-worker"]
    return "/".join(p for p in parts if p) + f":{docker.tag}"
