"""Build each flow's image once per content: reuse what the engine already has.

For every flow the content tag is computed first (pure, milliseconds). When
the engine already holds that tag the image is only re-tagged with the
mutable tag; otherwise it is built with both tags. Builds run in a bounded
thread pool and each ends as a result, so one failing Dockerfile leaves the
others built.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from deploytasks.errors import DeployTasksError
from deploytasks.images.content import ContentDigest, InvalidReference, content_digest
from deploytasks.images.docker_api import BuildRequest, Engine
from deploytasks.images.dockerignore import context_entries, load_patterns
from deploytasks.images.failures import ImageFailure, ImageMissing
from deploytasks.images.manifest import ImageRecord, Manifest, now
from deploytasks.images.results import (
    ImageResult,
    Reporter,
    as_failure,
    failed,
    run_parallel,
)
from deploytasks.images.targets import ImageOptions, ImageTarget

BASE_HINT = ("build it with `invoke images.base`, or point "
             "DOCKER_BASE_IMAGE at an image the engine has")
LABEL_FLOW = "org.deploytasks.flow"
LABEL_CONTENT = "org.deploytasks.content"


@dataclass(frozen=True)
class BuildJob:
    """Everything one image build needs besides the engine."""

    target: ImageTarget
    options: ImageOptions
    base_image_id: str
    manifest: Manifest
    reporter: Reporter


def build_images(engine: Engine, options: ImageOptions, targets: Sequence[ImageTarget],
                 manifest: Manifest, reporter: Reporter) -> list[ImageResult]:
    """Build (or reuse) the image of every target; one result per target, in order."""
    base_id = base_image_id(engine, options.base_image)
    jobs = [BuildJob(t, options, base_id, manifest, reporter) for t in targets]
    for job in jobs:
        reporter.state(job.target.flow, "queued")
    return run_parallel(jobs, lambda job: build_one(engine, job), options.parallelism)


def base_image_id(engine: Engine, base_image: str) -> str:
    """The engine's id of the base image, pulled first when it names a registry
    (a host with a '.' or ':'); a clear error when it is nowhere."""
    found = engine.image_id(base_image)
    first = base_image.split("/", 1)[0]
    if found is None and "/" in base_image and ("." in first or ":" in first or
                                               first == "localhost"):
        with contextlib.suppress(DeployTasksError):  # reported below as missing, with the fix
            engine.pull(base_image, first)
        found = engine.image_id(base_image)
    if found is None:
        raise ImageMissing(f"base image {base_image} is not in the Docker engine",
                           hint=BASE_HINT)
    return found


def build_one(engine: Engine, job: BuildJob) -> ImageResult:
    """Build or reuse one image; failures become a failed result, never an exception."""
    flow, started = job.target.flow, time.monotonic()
    image: str | None = None
    try:
        name = job.options.name(flow)
        image = name.ref
        job.reporter.state(flow, "hashing")
        args = job.options.args_for(flow)
        digest = content_digest(job.target.folder, args, dockerfile=job.target.dockerfile,
                                base_image_id=job.base_image_id)
        warnings = _secret_warnings(job, digest)
        content_ref = name.with_tag(digest.tag)
        image_id = None if job.options.no_cache else _existing(engine, content_ref, digest)
        if image_id is not None:
            engine.tag(image_id, content_ref)
            engine.tag(image_id, image)
            status = "reused"
        else:
            job.reporter.state(flow, "building")
            image_id = engine.build(_request(job, args, digest, [content_ref, image]),
                                    lambda line: job.reporter.log(flow, line))
            status = "built"
    except InvalidReference as error:
        return failed(flow, image, ImageFailure(str(error), hint=_rename_hint(flow)), started,
                      job.reporter)
    except Exception as error:  # one image's failure must not stop the others
        return failed(flow, image, as_failure(error), started, job.reporter)
    previous = job.manifest.get(flow, name.repository)
    pushed = previous if previous and previous.content_hash == digest.sha256 else None
    job.manifest.put(ImageRecord(flow, image, name.repository, name.tag, digest.tag,
                                 digest.sha256, image_id, status, now(),
                                 pushed.digest if pushed else None,  # same content: same digest
                                 pushed.pushed_at if pushed else None))
    seconds = time.monotonic() - started
    job.reporter.state(flow, status, digest.tag)
    return ImageResult(flow, image, status, seconds, content_ref, image_id, warnings=warnings)


def _existing(engine: Engine, content_ref: str, digest: ContentDigest) -> str | None:
    """An image with this content: by content tag, else by label (built for another registry)."""
    return engine.image_id(content_ref) or engine.find_labelled(LABEL_CONTENT, digest.sha256)


def _request(job: BuildJob, args: dict[str, str], digest: ContentDigest,
             tags: list[str]) -> BuildRequest:
    folder = job.target.folder
    entries = context_entries(folder, load_patterns(folder), job.target.dockerfile)
    return BuildRequest(folder, [e.path for e in entries], tags, args,
                        {LABEL_FLOW: job.target.flow, LABEL_CONTENT: digest.sha256},
                        job.target.dockerfile, use_cache=not job.options.no_cache)


def _secret_warnings(job: BuildJob, digest: ContentDigest) -> list[str]:
    warnings = []
    for path in digest.secret_files:
        message = (f"{job.target.flow}/{path} looks like a secret and would be copied into the "
                   f"image — add it to {job.target.flow}/.dockerignore")
        job.reporter.warn(job.target.flow, message)
        warnings.append(message)
    return warnings


def _rename_hint(flow: str) -> str:
    return (f"rename the folder '{flow}' to lowercase letters, digits and '.', '_' or '-' "
            "(deployment names follow the folder name)")
