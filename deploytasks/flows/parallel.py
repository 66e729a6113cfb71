"""Spreading per-file work over processes: parsing a thousand flow files is CPU-bound.

``parallel_map`` forks workers when there are enough items to pay for them (Linux, a
single-threaded parent, ``DEPLOYTASKS_WORKERS`` not 1); ``collector_paused`` keeps the
cyclic garbage collector from scanning the millions of short-lived AST nodes parsing
makes. Discovery and validation both run their per-flow work through these.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

PARALLEL_MIN_ITEMS = 200  # below this, starting processes costs more than it saves
MAX_WORKERS = 4
Item = TypeVar("Item")
Result = TypeVar("Result")


def parallel_map(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """``[function(item) for item in items]``, spread over forked processes when it pays.

    Parsing is CPU-bound (about 0.7 ms per flow file), so a large repository is read on
    every core. Workers are forked: they inherit ``function`` and ``items``, receive only
    indexes and send back only results (nothing else is pickled). Only on Linux, only from
    a single-threaded process (forking one with threads can deadlock);
    ``DEPLOYTASKS_WORKERS=1`` turns it off.
    """
    count = workers(len(items))
    if count < 2:
        return [function(item) for item in items]
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _SHARED
    _SHARED = (function, items)
    gc.freeze()  # keep the collector from touching (and so copying) the parent's pages
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(count, mp_context=context) as pool:
            chunk = max(1, len(items) // (count * 4))
            return list(pool.map(_call_shared, range(len(items)), chunksize=chunk))
    finally:
        _SHARED = None
        gc.unfreeze()


_SHARED: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _call_shared(index: int) -> Any:
    """In a worker: apply the inherited function to the inherited item at ``index``."""
    assert _SHARED is not None
    function, items = _SHARED
    return function(items[index])


def workers(count: int) -> int:
    """How many processes ``count`` items get (1: none are started)."""
    import threading

    wanted = os.environ.get("DEPLOYTASKS_WORKERS", "")
    if count < PARALLEL_MIN_ITEMS or not sys.platform.startswith("linux"):
        return 1
    if threading.active_count() > 1 or multiprocessing_child():
        return 1
    cores = len(os.sched_getaffinity(0))
    return min(int(wanted), cores) if wanted.isdigit() else min(cores, MAX_WORKERS)


def multiprocessing_child() -> bool:
    """True inside a worker process (which must not start workers of its own)."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many files are parsed.

    Parsing allocates millions of short-lived AST nodes; they hold no cycles and are
    freed by reference counting, but the collector scans them as they come (about a
    fifth of the time for a thousand flows).
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
