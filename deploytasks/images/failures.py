"""The expected failures of the images collection, each with the fix in its message, and
how the engine's and registries' complaints are told apart into them.

They subclass the project's errors so that a failure that stops a whole
command keeps its exit code (3 for an unreachable engine or registry), while
the per-image failures of build, push and pull are collected into results.
"""

from __future__ import annotations

from deploytasks.errors import ServiceUnavailable, WorkFailed

BUILD_HINT = "run `invoke images.build` (make build-images)"
ENGINE_HINT = "start Docker (dockerd / systemctl start docker) or set DOCKER_HOST"
UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "network is unreachable",
               "no route to host", "timeout", "http response to https client",
               "connection reset", "certificate", "tls:")
AUTH = ("unauthorized", "authentication required", "no basic auth credentials",
        "denied", "401", "403")
NOT_FOUND = ("manifest unknown", "not found", "does not exist", "404")


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


def engine_unreachable(host: str) -> ServiceUnavailable:
    """The one-line error for an engine that does not answer."""
    return ServiceUnavailable(f"Docker engine not reachable at {host}", hint=ENGINE_HINT)


def registry_error(text: str, registry: str, *, action: str, ref: str | None,
                   tail: list[str] | None = None) -> ImageFailure | RegistryUnavailable:
    """Turn the CLI's or engine's complaint about a registry into an error with its fix."""
    lower = text.lower()
    detail = last_error_line(text)
    what = f"{action} of {ref}" if ref else action
    if is_auth(text):
        return RegistryAuthFailed(
            f"registry {registry} refused the {what} ({detail or 'unauthorized'})",
            hint=f"run `docker login {registry}` or set DOCKER_USERNAME and DOCKER_PASSWORD",
            tail=tail)
    if any(word in lower for word in UNREACHABLE):
        return RegistryUnavailable(
            f"registry {registry} is not reachable ({detail})",
            hint="start the registry or fix --registry / DOCKER_REGISTRY; a plain-http "
                 "registry off the loopback must be listed in the engine's insecure-registries",
            tail=tail)
    if action == "pull" and any(word in lower for word in NOT_FOUND):
        return ImageMissing(f"registry {registry} has no {ref}",
                            hint="build and push it first: `invoke images.build` then "
                                 "`invoke images.push` (make build-images push-images)",
                            tail=tail)
    return ImageFailure(f"{what} failed: {detail or 'see the log above'}", tail=tail)


def is_auth(text: str) -> bool:
    """The registry refused who we are (or asked who we are)."""
    lower = text.lower()
    return any(word in lower for word in AUTH)


def last_error_line(text: str) -> str:
    """The last non-empty line: where the docker CLI and the engine say what went wrong."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
