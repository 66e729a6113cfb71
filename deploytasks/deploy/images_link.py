"""Which image a docker deployment runs: the flow's most exact image reference.

Planning reads only the configuration and the images manifest: the pushed
digest, else the content tag, else the mutable tag. Deploying also asks the
engine and the registry, and refuses an image that is nowhere, with the
command that builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploytasks.config import ResolvedConfig
from deploytasks.errors import DeployTasksError
from deploytasks.flows.discovery import FlowSpec

if TYPE_CHECKING:
    from deploytasks.images.refs import ImageRef


def image_for(config: ResolvedConfig, flow: FlowSpec) -> str:
    """The pinned image reference of ``flow`` (no engine needed)."""
    return _ref(config, flow).pinned


def _ref(config: ResolvedConfig, flow: FlowSpec) -> ImageRef:
    """The flow's image; a name Docker refuses is this deployment's problem, not a crash."""
    from deploytasks.images.content import InvalidReference
    from deploytasks.images.refs import image_for_flow

    try:
        return image_for_flow(config, flow.folder)
    except InvalidReference as error:
        raise DeployTasksError(f"no valid image name: {error}",
                               hint="rename the flow folder (lower case, digits, '.', '_', '-')"
                                    " or fix docker.namespace / docker.tag") from None


def verified_image_for(config: ResolvedConfig, flow: FlowSpec) -> str:
    """Like ``image_for``, but the image must exist locally or in the registry.

    ``ServiceUnavailable`` (engine down) propagates: it stops the whole run (exit 3).
    """
    from deploytasks.images.refs import locate_image

    ref = _ref(config, flow)
    if locate_image(ref) == "missing":
        where = f"locally or in {ref.registry}" if ref.registry else "locally"
        raise DeployTasksError(
            f"image {ref.pinned} not found {where}",
            hint=f"build it: invoke images.build --flow {flow.folder}"
                 + (" && invoke images.push" if ref.registry else "")
                 + f" (make build-images FLOW={flow.folder})")
    return ref.pinned
