"""Build each flow's image once per content: reuse what the engine already has.

For every flow the content tag is computed first (pure, milliseconds). When
the engine already holds that tag the image is only re-tagged with the
mutable tag; otherwise it is built with both tags. Builds run in a bounded
thread pool and each ends as a result, so one failing Dockerfile leaves the
others built.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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


@dataclass
class SharedBuilds:
    """One run's memory of content digests, and a lock per digest.

    Flows built from the repository's shared Dockerfile have the same inputs: the
    repository is hashed once, the first flow builds the image and the others wait for
    it and reuse it (a tag, no build).
    """

    digests: dict[tuple[object, ...], ContentDigest] = field(default_factory=dict)
    locks: dict[str, threading.Lock] = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock)
    built: set[str] = field(default_factory=set)  # content built in this run

    def digest(self, key: tuple[object, ...], compute: Callable[[], ContentDigest]
               ) -> ContentDigest:
        """The digest of ``key``, computed by the first caller only."""
        with self.guard:
            lock = self.locks.setdefault(repr(key), threading.Lock())
        with lock:
            if key not in self.digests:
                self.digests[key] = compute()
            return self.digests[key]

    def lock(self, sha256: str) -> threading.Lock:
        """The lock that serialises builds of the same content."""
        with self.guard:
            return self.locks.setdefault(sha256, threading.Lock())


@dataclass(frozen=True)
class BuildJob:
    """Everything one image build needs besides the engine."""

    target: ImageTarget
    options: ImageOptions
    base_image_id: str
    manifest: Manifest
    reporter: Reporter
    shared: SharedBuilds = field(default_factory=SharedBuilds)


def build_images(engine: Engine, options: ImageOptions, targets: Sequence[ImageTarget],
                 manifest: Manifest, reporter: Reporter) -> list[ImageResult]:
    """Build (or reuse) the image of every target; one result per target, in order."""
    base_id = base_image_id(engine, options.base_image)
    shared = SharedBuilds()
    jobs = [BuildJob(t, options, base_id, manifest, reporter, shared) for t in targets]
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
        args = job.options.args_for(flow, shared=job.target.shared)
        digest = _digest(job, args)
        warnings = _secret_warnings(job, digest)
        content_ref = name.with_tag(digest.tag)
        with job.shared.lock(digest.sha256):
            image_id, status = _build_or_reuse(engine, job, args, digest, [content_ref, image])
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


def _digest(job: BuildJob, args: dict[str, str]) -> ContentDigest:
    target = job.target
    key = (str(target.folder), target.dockerfile, tuple(sorted(args.items())),
           job.base_image_id, target.exclude)
    return job.shared.digest(key, lambda: content_digest(
        target.folder, args, dockerfile=target.dockerfile, base_image_id=job.base_image_id,
        exclude=target.exclude))


def _build_or_reuse(engine: Engine, job: BuildJob, args: dict[str, str], digest: ContentDigest,
                    tags: list[str]) -> tuple[str, str]:
    """Tag the image of this content when the engine has it, else build it: (id, status).

    Under ``--no-cache`` the first flow of a content builds, and flows sharing that
    content reuse what it built in this run."""
    flow = job.target.flow
    content_ref, image = tags
    image_id = None
    if not job.options.no_cache or digest.sha256 in job.shared.built:
        image_id = _existing(engine, content_ref, digest)
    if image_id is not None:
        engine.tag(image_id, content_ref)
        engine.tag(image_id, image)
        return image_id, "reused"
    job.reporter.state(flow, "building")
    image_id = engine.build(_request(job, args, digest, tags),
                            lambda line: job.reporter.log(flow, line))
    job.shared.built.add(digest.sha256)
    return image_id, "built"


def _existing(engine: Engine, content_ref: str, digest: ContentDigest) -> str | None:
    """An image with this content: by content tag, else by label (built for another registry)."""
    return engine.image_id(content_ref) or engine.find_labelled(LABEL_CONTENT, digest.sha256)


def _request(job: BuildJob, args: dict[str, str], digest: ContentDigest,
             tags: list[str]) -> BuildRequest:
    folder = job.target.folder
    patterns = [*job.target.exclude, *load_patterns(folder)]
    entries = context_entries(folder, patterns, job.target.dockerfile)
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
