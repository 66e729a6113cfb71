"""Push images to the registry and pull them back, one result per flow.

Credentials: the user's own ``docker login`` works as is. When
DOCKER_USERNAME / DOCKER_PASSWORD are set, ``session`` logs in inside a
private, temporary docker config folder instead — the password goes to the
CLI on stdin, is registered for redaction, and never lands in the user's
``~/.docker/config.json``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from deploytasks.errors import DeployTasksError
from deploytasks.images import docker_api
from deploytasks.images.content import InvalidReference
from deploytasks.images.docker_api import Engine
from deploytasks.images.failures import (
    BUILD_HINT,
    ImageFailure,
    ImageMissing,
    RegistryUnavailable,
)
from deploytasks.images.manifest import Manifest
from deploytasks.images.results import ImageResult, Reporter, as_failure, failed, run_parallel
from deploytasks.images.targets import ImageOptions, ImageTarget
from deploytasks.secrets import register_secret


@contextmanager
def session(options: ImageOptions) -> Iterator[Engine]:
    """An engine connection, logged in to the registry when credentials are configured."""
    if not (options.username and options.password):
        yield docker_api.connect()
        return
    register_secret(options.password)
    with tempfile.TemporaryDirectory(prefix="deploytasks-docker-") as folder:
        Path(folder, "config.json").write_text("{}\n", encoding="utf-8")
        auth = {"username": options.username, "password": options.password}
        engine = docker_api.connect(config_dir=Path(folder), auth=auth)
        engine.login(options.registry_host(), options.username, options.password)
        yield engine


def push_images(engine: Engine, options: ImageOptions, targets: Sequence[ImageTarget],
                manifest: Manifest, reporter: Reporter) -> list[ImageResult]:
    """Push the content tag and the mutable tag of every target's image."""
    return _transfer(engine, options, targets, reporter, lambda t, registry: _push_one(
        engine, options, t, manifest, reporter, registry))


def pull_images(engine: Engine, options: ImageOptions, targets: Sequence[ImageTarget],
                manifest: Manifest, reporter: Reporter) -> list[ImageResult]:
    """Pull every target's image: its content tag when the manifest knows it, else the tag."""
    return _transfer(engine, options, targets, reporter, lambda t, registry: _pull_one(
        engine, options, t, manifest, reporter, registry))


def _transfer(engine: Engine, options: ImageOptions, targets: Sequence[ImageTarget],
              reporter: Reporter, one: Callable[[ImageTarget, str], ImageResult]
              ) -> list[ImageResult]:
    """Check the registry once, then move every target's image with bounded parallelism."""
    registry = options.require_registry()
    preflight(engine, options, targets, registry)
    for target in targets:
        reporter.state(target.flow, "queued")
    return run_parallel(targets, lambda t: one(t, registry), options.parallelism)


def preflight(engine: Engine, options: ImageOptions, targets: Sequence[ImageTarget],
              registry: str) -> None:
    """One look-up through the engine, so an unreachable registry is one error, not one per image.

    Only unreachability stops here: an authentication complaint is left to the
    push itself, which uses the CLI's credentials exactly as the user's shell would.
    """
    if not targets:
        return
    try:
        engine.registry_digest(options.name(targets[0].flow).ref, registry)
    except RegistryUnavailable:
        raise
    except (DeployTasksError, InvalidReference):
        return


def _push_one(engine: Engine, options: ImageOptions, target: ImageTarget, manifest: Manifest,
              reporter: Reporter, registry: str) -> ImageResult:
    flow, started, image = target.flow, time.monotonic(), None
    try:
        name = options.name(flow)
        image = name.ref
        record = manifest.get(flow, name.repository)
        refs = [record.content_image, image] if record else [image]
        for ref in refs:
            if engine.image_id(ref) is None:
                raise ImageMissing(f"image {ref} is not in the local engine", hint=BUILD_HINT)
        reporter.state(flow, "pushing", image)
        digest = None
        for ref in refs:
            digest = engine.push(ref, registry, lambda line: reporter.log(flow, line)) or digest
        digest = digest or engine.repo_digest(image, name.repository)
        if record:
            manifest.mark_pushed(flow, digest)
    except InvalidReference as error:
        return failed(flow, image, ImageFailure(str(error)), started, reporter)
    except Exception as error:  # one image's failure must not stop the others
        return failed(flow, image, as_failure(error), started, reporter)
    reporter.state(flow, "pushed", digest or "")
    warnings = [] if record else [f"{flow}: no content tag recorded; pushed {image} only "
                                  "(build with `invoke images.build` to get one)"]
    for warning in warnings:
        reporter.warn(flow, warning)
    return ImageResult(flow, image, "pushed", time.monotonic() - started,
                       record.content_image if record else None, digest=digest,
                       warnings=warnings)


def _pull_one(engine: Engine, options: ImageOptions, target: ImageTarget, manifest: Manifest,
              reporter: Reporter, registry: str) -> ImageResult:
    flow, started, image = target.flow, time.monotonic(), None
    try:
        name = options.name(flow)
        image = name.ref
        record = manifest.get(flow, name.repository)
        ref = record.content_image if record else image
        reporter.state(flow, "pulling", ref)
        digest = engine.pull(ref, registry, lambda line: reporter.log(flow, line))
        if ref != image:
            engine.tag(ref, image)
        image_id = engine.image_id(image)
    except InvalidReference as error:
        return failed(flow, image, ImageFailure(str(error)), started, reporter)
    except Exception as error:  # one image's failure must not stop the others
        return failed(flow, image, as_failure(error), started, reporter)
    reporter.state(flow, "pulled", digest or "")
    return ImageResult(flow, image, "pulled", time.monotonic() - started,
                       record.content_image if record else None, image_id, digest)
