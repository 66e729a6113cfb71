"""Which image a docker deployment runs: the flow's most exact image reference.

Planning reads only the configuration and the images manifest: the pushed
digest, else the content tag, else the mutable tag. Deploying also asks the
engine and the registry, and refuses an image that is nowhere, with the
command that builds it.
"""

from __future__ import annotations

from deploytasks.config import ResolvedConfig
from deploytasks.errors import DeployTasksError
from deploytasks.flows.discovery import FlowSpec


def image_for(config: ResolvedConfig, flow: FlowSpec) -> str:
    """The pinned image reference of ``flow`` (no engine needed)."""
    from deploytasks.images.refs import image_for_flow

    return image_for_flow(config, flow.folder).pinned


def verified_image_for(config: ResolvedConfig, flow: FlowSpec) -> str:
    """Like ``image_for``, but the image must exist locally or in the registry.

    ``ServiceUnavailable`` (engine down) propagates: it stops the whole run (exit 3).
    """
    from deploytasks.images.refs import image_for_flow, locate_image

    ref = image_for_flow(config, flow.folder)
    if locate_image(ref) == "missing":
        where = f"locally or in {ref.registry}" if ref.registry else "locally"
        raise DeployTasksError(
            f"image {ref.pinned} not found {where}",
            hint=f"build it: invoke images.build --flow {flow.folder}"
                 + (" && invoke images.push" if ref.registry else "")
                 + f" (make build-images FLOW={flow.folder})")
    return ref.pinned
