"""One pace for every request of a run: the server's ``Retry-After`` and adaptive concurrency.

A hosted API (Prefect Cloud) answers 429 with ``Retry-After`` when a client
sends too fast; a busy server may answer 503 with it. The wait is shared: one
gate for the whole gateway. While the server asked us to wait, no request of
this run is sent — concurrent writers each keeping their own short backoff
would send a burst of writes inside the wait and use up their retries there.

Each wait is capped (``prefect.max_retry_after``) and all of them together are
bounded by a budget per run (``prefect.wait_budget``): when it is used up the
remaining requests fail at once, saying that a re-run finishes them.

Concurrency of writes adapts like TCP's window: halved (at least 1) on a busy
answer to a request sent at the current concurrency, one step back up after
a calm period without one, never above the configured ceiling.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

CALM_SECONDS = 10.0  # without a busy answer, before concurrency grows one step


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date
    (RFC 9110 §10.2.3). None when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


@dataclass
class PaceStats:
    """What the run can tell afterwards: how often and how long it waited, how low it went."""

    waits: int = 0
    waited_seconds: float = 0.0
    lowest_concurrency: int | None = None  # None: never lowered


@dataclass
class Throttle:
    """The shared gate and the adaptive write concurrency of one gateway."""

    cap: float = 60.0
    budget: float = 600.0
    calm: float = CALM_SECONDS
    clock: Callable[[], float] = time.monotonic
    stats: PaceStats = field(default_factory=PaceStats)
    exhausted: bool = False
    ceiling: int = 1
    limit: int = 1
    _open_at: float = 0.0
    _active: int = 0
    _last_down: float = -math.inf
    _last_change: float = 0.0
    _condition: asyncio.Condition | None = None

    # The gate ---------------------------------------------------------------------------

    async def pass_gate(self) -> None:
        """Return once the gate is open (at once when nobody asked us to wait)."""
        while (delay := self._open_at - self.clock()) > 0:
            await asyncio.sleep(delay)

    def ask_to_wait(self, seconds: float) -> bool:
        """The server asked to wait ``seconds``: close the gate for everyone, capped.

        False (and the throttle is exhausted) when the budget cannot pay for it."""
        now = self.clock()
        until = now + min(seconds, self.cap)
        if until <= self._open_at:
            return True  # already closed at least that long
        extra = until - max(now, self._open_at)
        if self.stats.waited_seconds + extra > self.budget:
            self.exhausted = True
            return False
        if self._open_at <= now:
            self.stats.waits += 1
        self.stats.waited_seconds += extra
        self._open_at = until
        return True

    # Concurrency ------------------------------------------------------------------------

    def set_ceiling(self, concurrency: int) -> None:
        """The configured concurrency: where the limit starts and the most it grows to."""
        self.ceiling = self.limit = max(1, concurrency)
        self._last_change = self.clock()

    def busy(self, sent_at: float) -> None:
        """A busy answer (429/503) to a request sent at ``sent_at``: halve the limit, once
        for all the requests that were already in flight at the last decrease."""
        if sent_at < self._last_down or self.limit == 1:
            return
        self.limit //= 2
        self._last_down = self._last_change = self.clock()
        lowest = self.stats.lowest_concurrency
        self.stats.lowest_concurrency = self.limit if lowest is None else min(lowest, self.limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` write slots for the duration of the block."""
        condition = self._condition = self._condition or asyncio.Condition()
        async with condition:
            await condition.wait_for(lambda: self._active < self.limit)
            self._active += 1
        try:
            yield
        finally:
            async with condition:
                self._active -= 1
                self._grow()
                condition.notify_all()

    def _grow(self) -> None:
        now = self.clock()
        if self.limit < self.ceiling and now - self._last_change >= self.calm \
                and now >= self._open_at:
            self.limit += 1
            self._last_change = now
