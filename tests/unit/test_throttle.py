"""The shared gate, the wait budget and adaptive concurrency (``deploy/throttle.py``), and the
gateway's retry loop on top of them, with a fake clock where time matters.

The gateway tests use a real httpx response hook chain but no server: the requests are
plain coroutines that raise what Prefect's client would raise (``ServerBusy`` from our
response hook), so the timing of many concurrent callers can be asserted exactly.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from deploytasks.deploy.prefect_api import ApiError, PrefectGateway, ServerBusy
from deploytasks.deploy.prefect_api.throttle import Throttle, parse_retry_after

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def busy(status: int, retry_after: str | None = None) -> ServerBusy:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    request = httpx.Request("POST", "http://x/api/deployments/")
    return ServerBusy(httpx.Response(status, headers=headers, json={"detail": "slow down"},
                                     request=request))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- Retry-After ---------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [
    ("8", 8.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0), ("", None), (None, None),
    ("soon", None), ("inf", None), ("nan", None),
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
    (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
    ("Sat, 01 Mar 2025 12:00:07", 7.0),  # no zone: GMT, as HTTP dates are
])
def test_retry_after_seconds_or_http_date(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_only_429_and_503_carry_a_wait() -> None:
    assert busy(429, "4").retry_after == 4.0
    assert busy(503, "4").retry_after == 4.0
    assert busy(502, "4").retry_after is None
    assert busy(503).retry_after is None


# --- gate and budget -----------------------------------------------------------------------

def test_the_gate_closes_once_for_overlapping_asks_and_counts_the_union() -> None:
    clock = Clock()
    throttle = Throttle(cap=60, budget=100, clock=clock)
    assert throttle.ask_to_wait(8)
    clock.now += 1
    assert throttle.ask_to_wait(5)  # ends before the gate opens: nothing more
    assert throttle.ask_to_wait(9)  # ends 2 s later: 2 s more
    assert (throttle.stats.waits, throttle.stats.waited_seconds) == (1, 10.0)
    clock.now += 20
    assert throttle.ask_to_wait(3)  # the gate had opened: a second wait
    assert (throttle.stats.waits, throttle.stats.waited_seconds) == (2, 13.0)


def test_each_wait_is_capped() -> None:
    clock = Clock()
    throttle = Throttle(cap=60, budget=1000, clock=clock)
    assert throttle.ask_to_wait(3600)
    assert throttle.stats.waited_seconds == 60.0


def test_a_wait_beyond_the_budget_exhausts_the_throttle() -> None:
    clock = Clock()
    throttle = Throttle(cap=60, budget=10, clock=clock)
    assert throttle.ask_to_wait(6)
    clock.now += 6
    assert not throttle.ask_to_wait(6)  # 6 + 6 > 10
    assert throttle.exhausted and throttle.stats.waited_seconds == 6.0


# --- adaptive concurrency ------------------------------------------------------------------

def test_concurrency_halves_once_per_generation_and_grows_back_after_calm() -> None:
    clock = Clock()
    throttle = Throttle(calm=10, clock=clock)
    throttle.set_ceiling(8)
    sent = clock.now
    clock.now += 1
    throttle.busy(sent)
    throttle.busy(sent)  # in flight at the same time: already accounted for
    assert throttle.limit == 4
    throttle.busy(clock.now)  # sent after the decrease: halves again
    throttle.busy(clock.now)
    throttle.busy(clock.now)
    assert throttle.limit == 1 and throttle.stats.lowest_concurrency == 1

    async def release_one() -> None:
        async with throttle.slot():
            pass

    asyncio.run(release_one())
    assert throttle.limit == 1  # not calm yet
    for step in (2, 3, 4, 5, 6, 7, 8, 8):
        clock.now += 10
        asyncio.run(release_one())
        assert throttle.limit == step  # one step per calm period, never above the ceiling


def test_ceiling_one_is_never_lowered_or_reported() -> None:
    throttle = Throttle()
    throttle.set_ceiling(1)
    throttle.busy(throttle.clock())
    assert throttle.limit == 1 and throttle.stats.lowest_concurrency is None


def test_slots_bound_the_writers_in_flight() -> None:
    throttle = Throttle()
    throttle.set_ceiling(3)
    peak = 0
    active = 0

    async def writer() -> None:
        nonlocal peak, active
        async with throttle.slot():
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1

    async def main() -> None:
        await asyncio.gather(*(writer() for _ in range(12)))

    asyncio.run(main())
    assert peak == 3


# --- the gateway's retry loop ------------------------------------------------------------

def gateway(**throttle: float) -> PrefectGateway:
    return PrefectGateway("http://127.0.0.1:9/api", retries=2, backoff=0.001,
                          throttle=Throttle(**throttle))


def test_every_concurrent_caller_waits_behind_one_429() -> None:
    """Four writers; the first answer is a 429 asking for 0.3 s. Nobody may send inside it."""
    gw = gateway(cap=60, budget=100)
    sends: list[float] = []
    told: list[float] = []

    async def request() -> str:
        now = asyncio.get_running_loop().time()
        sends.append(now)
        if not told:
            told.append(now + 0.3)
            raise busy(429, "0.3")
        return "ok"

    async def main() -> list[str]:
        await asyncio.sleep(0)
        first = asyncio.ensure_future(gw.call("first", request))
        await asyncio.sleep(0.05)  # the others start while the gate is closed
        rest = [gw.call(f"w{n}", request) for n in range(3)]
        return [await first, *await asyncio.gather(*rest)]

    assert asyncio.run(main()) == ["ok"] * 4
    assert len(sends) == 5
    assert all(t >= told[0] - 0.01 for t in sends[1:]), (sends, told)
    assert gw.counter.retries == 1 and gw.counter.pace.waits == 1


def test_429_waits_do_not_use_up_attempts_but_plain_503s_do() -> None:
    gw = gateway(cap=60, budget=100)
    answers = [busy(429, "0.01")] * 5 + ["ok"]

    async def request() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert asyncio.run(gw.call("paced", request)) == "ok"  # 5 waits > retries=2

    plain = [busy(503)] * 5

    async def failing() -> str:
        raise plain.pop(0)

    with pytest.raises(ApiError, match="gave up after retries"):
        asyncio.run(gw.call("plain", failing))


def test_used_up_budget_fails_this_request_and_the_rest_without_sending() -> None:
    gw = gateway(cap=60, budget=1)
    sent: list[str] = []

    async def request(name: str) -> str:
        sent.append(name)
        raise busy(429, "5")

    with pytest.raises(ApiError) as first:
        asyncio.run(gw.call("create a", request, "a"))
    assert "asks to wait 5 s more, beyond the run's waiting budget" in first.value.message
    assert "a re-run sends only what is still missing" in first.value.message
    with pytest.raises(ApiError) as second:
        asyncio.run(gw.call("create b", request, "b"))
    assert second.value.message.startswith("create b: not attempted, the run's waiting budget")
    assert sent == ["a"]


def test_a_rate_limited_health_check_is_waited_out_not_called_unreachable() -> None:
    """On a hosted API the health check counts against the limit too."""
    gw = gateway(cap=60, budget=100)
    answers: list[BaseException | None] = [busy(429, "0.05"), None]

    class Client:
        async def api_healthcheck(self) -> BaseException | None:
            return answers.pop(0)

    gw._client = Client()  # type: ignore[assignment]
    assert asyncio.run(gw._health()) is None
    assert gw.counter.pace.waits == 1 and answers == []


def test_a_health_check_refused_for_credentials_says_so_not_unreachable() -> None:
    """A hosted API may guard its health check too: 401 there is a credentials problem."""
    from deploytasks.deploy.prefect_api import CredentialsRefused

    gw = gateway()
    request = httpx.Request("GET", "http://x/api/health")
    refused = httpx.HTTPStatusError("401", request=request,
                                    response=httpx.Response(401, request=request))

    class Client:
        async def api_healthcheck(self) -> BaseException | None:
            return refused

    gw._client = Client()  # type: ignore[assignment]
    with pytest.raises(CredentialsRefused) as caught:
        asyncio.run(gw._health())
    assert caught.value.exit_code == 2 and "refused the credentials" in caught.value.message
