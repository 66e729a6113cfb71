"""Ctrl-C during a command's event loop: stop sending, and say so with exit code 130.

``asyncio.run`` turns Ctrl-C into a cancellation of the main task, and raises
``KeyboardInterrupt`` only if that cancellation comes back out. A library can lose
it (Python 3.11's ``asyncio.wait_for`` swallows a cancellation that races with its
result), and the run then goes on writing as if nothing happened. So Ctrl-C here
also sets a flag: writes not yet started check it and are not sent, and the run
ends in ``KeyboardInterrupt`` however its tasks ended.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_requested = threading.Event()


def requested() -> bool:
    """Whether Ctrl-C was pressed during the current run: start nothing new."""
    return _requested.is_set()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion in a new event loop; Ctrl-C cancels it and
    raises ``KeyboardInterrupt`` once the loop is done (a second Ctrl-C at once)."""
    _requested.clear()
    try:
        result = asyncio.run(_watched(coroutine))
    except asyncio.CancelledError:
        if _requested.is_set():
            raise KeyboardInterrupt from None
        raise
    if _requested.is_set():  # the cancellation was lost on the way: the run still stops
        raise KeyboardInterrupt
    return result


async def _watched(coroutine: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    watching = threading.current_thread() is threading.main_thread()

    def on_ctrl_c() -> None:
        if _requested.is_set():
            raise KeyboardInterrupt  # pressed again: stop now, whatever is in flight
        _requested.set()
        if task is not None:
            task.cancel()

    if watching:
        loop.add_signal_handler(signal.SIGINT, on_ctrl_c)
    try:
        return await coroutine
    finally:
        if watching:
            loop.remove_signal_handler(signal.SIGINT)
