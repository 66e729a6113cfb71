"""Make the container half of the quickstart possible: engine, base image, flow images.

Returns why containers must be skipped (no engine, a failed build), or None
when every flow's image is ready for ``deploy.containers``.
"""

from __future__ import annotations

from deploytasks.console import Output
from deploytasks.errors import DeployTasksError, ServiceUnavailable


def prepare_images(out: Output, env: str | None) -> str | None:
    """Build the base image (cached) and the flows' images; the reason to skip, or None."""
    from deploytasks.images import commands, docker_api

    try:
        docker_api.connect()
    except ServiceUnavailable as error:
        return error.message
    try:
        if commands.base(out) or commands.build(out, env=env):
            return "an image did not build (see above); fix it, then: make build-images"
    except DeployTasksError as error:
        return str(error)
    return None
