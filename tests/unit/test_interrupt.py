"""Ctrl-C during a command's event loop ends the run, even when a library loses the
cancellation (deploy/interrupt.py); the signal is real, sent to this process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest

from deploytasks.deploy import interrupt


def _ctrl_c_soon(loop: asyncio.AbstractEventLoop) -> None:
    loop.call_later(0.05, os.kill, os.getpid(), signal.SIGINT)


def test_ctrl_c_cancels_the_run_and_raises_keyboard_interrupt() -> None:
    reached: list[str] = []

    async def work() -> None:
        _ctrl_c_soon(asyncio.get_running_loop())
        try:
            await asyncio.sleep(30)
        finally:
            reached.append("cleaned up")

    with pytest.raises(KeyboardInterrupt):
        interrupt.run(work())
    assert reached == ["cleaned up"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_cancellation_the_work_swallows_still_ends_in_keyboard_interrupt() -> None:
    sent_after: list[int] = []

    async def work() -> str:
        _ctrl_c_soon(asyncio.get_running_loop())
        with contextlib.suppress(asyncio.CancelledError):  # what a library racing it can do
            await asyncio.sleep(30)
        for n in range(3):  # writes that would follow: each asks first
            if not interrupt.requested():
                sent_after.append(n)
        return "finished"

    with pytest.raises(KeyboardInterrupt):
        interrupt.run(work())
    assert sent_after == []


def test_a_run_without_ctrl_c_returns_its_result_and_clears_the_flag() -> None:
    async def work() -> int:
        return 7

    assert interrupt.run(work()) == 7
    assert not interrupt.requested()
