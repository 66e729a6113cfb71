"""Per-image results, progress events, and the bounded thread pool that produces them.

Build, push and pull share one shape: each image is worked on in a thread,
reports its state as it goes, and ends as a result that carries its error
instead of raising it — one failing image never stops the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from deploytasks.errors import EXIT_OK, EXIT_PROBLEMS, DeployTasksError, ServiceUnavailable
from deploytasks.images.failures import ImageFailure

T = TypeVar("T")


class Reporter(Protocol):
    """Where the core sends progress; the console renders it, tests may record it."""

    def state(self, flow: str, state: str, detail: str = "") -> None:
        """``flow`` entered ``state`` (queued, building, built, reused, pushing, failed …)."""

    def log(self, flow: str, line: str) -> None:
        """One line of the builder's or the registry's output for ``flow``."""

    def warn(self, flow: str, message: str) -> None:
        """Something the user should know that does not fail the image."""


class NullReporter:
    """Reports nothing (benchmarks, library callers)."""

    def state(self, flow: str, state: str, detail: str = "") -> None:
        """Ignore a state change."""

    def log(self, flow: str, line: str) -> None:
        """Ignore a log line."""

    def warn(self, flow: str, message: str) -> None:
        """Ignore a warning."""


@dataclass
class ImageResult:
    """How one image's build, push or pull ended."""

    flow: str
    image: str | None
    status: str
    seconds: float = 0.0
    content_image: str | None = None
    image_id: str | None = None
    digest: str | None = None
    error: DeployTasksError | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when this image did not make it."""
        return self.error is not None

    @property
    def tail(self) -> list[str]:
        """The last lines of the failing step, when the failure has them."""
        return list(getattr(self.error, "tail", []) or [])

    def to_json(self) -> dict[str, Any]:
        """The result for ``--json``."""
        return {"flow": self.flow, "image": self.image, "content_image": self.content_image,
                "status": self.status, "seconds": round(self.seconds, 3),
                "image_id": self.image_id, "digest": self.digest,
                "error": str(self.error) if self.error else None, "tail": self.tail,
                "warnings": self.warnings}


def failed(flow: str, image: str | None, error: DeployTasksError, started: float,
           reporter: Reporter) -> ImageResult:
    """A failed result (and its event), timed from ``started``."""
    reporter.state(flow, "failed", error.message)
    return ImageResult(flow, image, "failed", time.monotonic() - started, error=error)


def as_failure(error: Exception) -> DeployTasksError:
    """Expected errors pass through; anything else is wrapped so the other images go on."""
    if isinstance(error, DeployTasksError):
        return error
    return ImageFailure(f"unexpected {type(error).__name__}: {error}")


def run_parallel(items: Sequence[T], work: Callable[[T], ImageResult],
                 parallelism: int) -> list[ImageResult]:
    """Run ``work`` over ``items`` in at most ``parallelism`` threads; results in item order.

    The threads are daemons and nothing new starts after Ctrl-C, so an interrupt
    stops the command at once instead of waiting for the builds in flight (the
    engine finishes or drops them on its own).
    """
    if not items:
        return []
    workers = max(1, min(parallelism, len(items)))
    if workers == 1:
        return [work(item) for item in items]
    pending = list(enumerate(items))
    results: dict[int, ImageResult] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending or failures:
                    return
                index, item = pending.pop(0)
            try:
                results[index] = work(item)
            except BaseException as error:  # a bug in one worker: re-raised in the caller
                failures.append(error)
                return

    threads = [threading.Thread(target=worker, name=f"images-{n}", daemon=True)
               for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short joins let Ctrl-C reach this thread
    except KeyboardInterrupt:
        with lock:
            pending.clear()
        raise
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(items))]


def exit_code(results: Sequence[ImageResult]) -> int:
    """3 when a service was unreachable for any image, 1 when any image failed, else 0."""
    errors = [r.error for r in results if r.error is not None]
    if any(isinstance(e, ServiceUnavailable) for e in errors):
        return ServiceUnavailable.exit_code
    return EXIT_PROBLEMS if errors else EXIT_OK
