"""The expected failures of the images collection, each with the fix in its message.

They subclass the project's errors so that a failure that stops a whole
command keeps its exit code (3 for an unreachable engine or registry), while
the per-image failures of build, push and pull are collected into results.
"""

from __future__ import annotations

from deploytasks.errors import ServiceUnavailable, WorkFailed

BUILD_HINT = "run `invoke images.build` (make build-images)"


class ImageFailure(WorkFailed):
    """One image could not be built, pushed or pulled; ``tail`` holds the last log lines."""

    def __init__(self, message: str, *, hint: str | None = None,
                 tail: list[str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tail = tail or []


class BuildFailed(ImageFailure):
    """The builder ran and a step failed."""


class ImageMissing(ImageFailure):
    """A local image that should exist does not."""


class RegistryAuthFailed(ImageFailure):
    """The registry refused the credentials (or asked for some)."""


class RegistryUnavailable(ServiceUnavailable):
    """The registry does not answer (connection refused, no such host, TLS mismatch)."""

    def __init__(self, message: str, *, hint: str | None = None,
                 tail: list[str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tail = tail or []
