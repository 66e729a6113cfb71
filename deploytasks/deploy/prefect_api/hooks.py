"""The httpx event hooks on the run's one client: what every request and answer tells us.

They sit below Prefect's client, so they see each request as sent and each answer
as received: the counter proves a run sent no writes; a busy answer is raised at
once (Prefect's own retry loop would sleep ~2 s even with retries off) for our
retry loop in ``connection.py``; and the answer to each deployment create says
whether the create made a new row or upserted onto an existing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from deploytasks.deploy.prefect_api.throttle import PaceStats, parse_retry_after

READ_SUFFIXES = ("/filter", "/count", "/paginate", "/health")


@dataclass
class RequestCounter:
    """Requests sent, split into reads and writes (filters are POSTs but only read)."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    pace: PaceStats = field(default_factory=PaceStats)

    async def __call__(self, request: httpx.Request) -> None:
        path = request.url.path.rstrip("/")
        if request.method == "GET" or path.endswith(READ_SUFFIXES):
            self.reads += 1
        else:
            self.writes += 1


class ServerBusy(Exception):
    """The server answered 429/5xx. Raised from a response hook so that Prefect's client,
    whose retry loop sleeps ~2 s even with retries off, hands it straight to ours."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}: {detail(response)}")
        self.status_code = response.status_code
        self.retry_after = parse_retry_after(response.headers.get("Retry-After")) \
            if response.status_code in (429, 503) else None


async def fail_fast_when_busy(response: httpx.Response) -> None:
    """httpx response hook: turn a 'busy' answer into ``ServerBusy``."""
    if response.status_code in (429, 502, 503, 504):
        await response.aread()
        raise ServerBusy(response)


@dataclass
class CreateAnswers:
    """httpx response hook: how the server answered each deployment create, by id.

    Prefect's ``POST /deployments/`` upserts on (flow, name) and its client returns
    only the id; the server answers 201 for a new row and 200 when the upsert hit an
    existing one — which is how a create that took over someone's deployment shows."""

    answers: dict[str, tuple[int, str | None]] = field(default_factory=dict)

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        if request.method != "POST" or not request.url.path.rstrip("/").endswith("/deployments"):
            return
        if response.status_code in (200, 201):
            await response.aread()
            body = response.json()
            if isinstance(body, dict) and body.get("id"):
                self.answers[str(body["id"])] = (response.status_code, body.get("updated"))


def detail(response: httpx.Response) -> str:
    """What an error answer says, short (its ``detail``, else the start of its body)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    found = body.get("detail", body) if isinstance(body, dict) else body
    return str(found)[:300]
