"""The run's one connection to a Prefect API, and the retry loop every request goes through.

One client for the whole run (Prefect's ``deploy`` opens about five per
deployment). Prefect's built-in retry backs off ~2 s per 503 and waits per
request; we turn it off and retry transient failures ourselves: a short,
growing backoff for a 503 without ``Retry-After``, one wait shared by every
request of the run when the server says how long (429/503 ``Retry-After``,
see ``throttle.py``), and a breaker that stops hammering a server that is
gone. Requests are counted (``hooks.py``), so a run can prove it sent no writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from deploytasks.deploy.prefect_api.hooks import (
    CreateAnswers,
    RequestCounter,
    ServerBusy,
    detail,
    fail_fast_when_busy,
)
from deploytasks.deploy.prefect_api.throttle import Throttle
from deploytasks.errors import EXIT_USAGE, DeployTasksError, ServiceUnavailable

T = TypeVar("T")
C = TypeVar("C", bound="Connection")
BUDGET_HINT = "run the same command again later, or raise prefect.wait_budget"


class ApiError(DeployTasksError):
    """The server refused one request (after retries, where retrying made sense)."""


class CredentialsRefused(ApiError):
    """The server answered 401/403: the key or auth string is wrong or missing."""

    exit_code = EXIT_USAGE


@dataclass
class Breaker:
    """Opens after the server stayed unreachable through a whole retry budget."""

    open: bool = False
    reason: str = ""


@dataclass
class Connection:
    """An open connection to one Prefect API (``async with``), and ``call`` for each request."""

    api_url: str
    api_key: str | None = None
    timeout: float = 30.0
    retries: int = 6
    backoff: float = 0.05
    auth_string: str | None = None
    throttle: Throttle = field(default_factory=Throttle)
    counter: RequestCounter = field(default_factory=RequestCounter)
    breaker: Breaker = field(default_factory=Breaker)
    creates: CreateAnswers = field(default_factory=CreateAnswers)
    event_wait: float = 10.0  # the server persists events every ~5 s (flush interval)
    _client: PrefectClient | None = None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    def __post_init__(self) -> None:
        self.counter.pace = self.throttle.stats  # the run's report says how long it waited

    async def __aenter__(self: C) -> C:
        self._stack.enter_context(temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}))
        settings: dict[str, Any] = {"timeout": self.timeout,
                                    "event_hooks": {"request": [self.counter],
                                                    "response": [fail_fast_when_busy,
                                                                 self.creates]}}
        if self.api_url.startswith("http://"):  # no TLS: spare loading the CA bundle (~0.1 s)
            settings["verify"] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client = PrefectClient(self.api_url, api_key=self.api_key, auth_string=self.auth_string,
                               httpx_settings=settings)
        self._client = await self._stack.enter_async_context(client)
        try:
            problem = await self._health()
        except CredentialsRefused:
            await self._stack.aclose()
            raise
        if problem is not None:
            await self._stack.aclose()
            raise ServiceUnavailable(
                f"Prefect API not reachable at {self.api_url} ({short(problem)})",
                hint="start the local server (invoke env.up / make server-up) "
                     "or set PREFECT_API_URL to a running server")
        return self

    async def _health(self) -> BaseException | None:
        """None when the API answers; a rate-limited or busy answer is waited out like any
        other request's (on a hosted API the health check counts against the limit too)."""
        async def check() -> BaseException | None:
            problem = await self.client.api_healthcheck()
            if isinstance(problem, ServerBusy) or refused(problem):
                raise problem  # type: ignore[misc]
            return problem

        try:
            return await self.call("health check", check)
        except CredentialsRefused:
            raise
        except ApiError as error:
            return error

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._stack.aclose()

    @property
    def client(self) -> PrefectClient:
        assert self._client is not None, "use the gateway inside 'async with'"
        return self._client

    async def call(self, what: str, method: Callable[..., Awaitable[T]], *args: Any,
                   **kwargs: Any) -> T:
        """Run one request: wait while the shared gate is closed, retry transient failures.

        A busy answer that says how long to wait closes the gate for every request
        of the run and costs no attempt (the wait budget bounds those); any other
        transient failure costs an attempt and a short, growing backoff."""
        delay, attempt = self.backoff, 0
        while True:
            await self._pass_gate(what)
            sent_at = self.throttle.clock()
            try:
                return await method(*args, **kwargs)
            except Exception as error:
                is_transient = transient(error)
                if not is_transient:
                    raise self._failure(what, error, is_transient) from None
                if isinstance(error, ServerBusy):
                    self.throttle.busy(sent_at)
                    if error.retry_after:
                        self._wait_as_told(what, error, error.retry_after)
                        self.counter.retries += 1
                        continue
                attempt += 1
                if attempt > self.retries:
                    raise self._failure(what, error, is_transient) from None
            self.counter.retries += 1
            await asyncio.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)

    async def _pass_gate(self, what: str) -> None:
        if self.breaker.open:
            raise ServiceUnavailable(f"{what}: not attempted, {self.breaker.reason}")
        if self.throttle.exhausted:
            raise ApiError(f"{what}: not attempted, the run's waiting budget is used up "
                           f"({self._budget_spent()}); a re-run sends only what is still "
                           "missing", hint=BUDGET_HINT)
        await self.throttle.pass_gate()

    def _wait_as_told(self, what: str, error: ServerBusy, seconds: float) -> None:
        if not self.throttle.ask_to_wait(seconds):
            raise ApiError(f"{what}: HTTP {error.status_code}: the server asks to wait "
                           f"{seconds:.0f} s more, beyond the run's waiting budget "
                           f"({self._budget_spent()}); a re-run sends only what is still "
                           "missing", hint=BUDGET_HINT)

    def _budget_spent(self) -> str:
        throttle = self.throttle
        return (f"waited {throttle.stats.waited_seconds:.0f} s of prefect.wait_budget "
                f"{throttle.budget:g} s")

    def _failure(self, what: str, error: Exception, is_transient: bool) -> DeployTasksError:
        if isinstance(error, httpx.TransportError):
            self.breaker.open = True
            self.breaker.reason = f"the Prefect API at {self.api_url} stopped answering"
            return ServiceUnavailable(f"{what}: {self.breaker.reason} ({short(error)})",
                                      hint="check the server; a re-run finishes the rest")
        if refused(error):
            return CredentialsRefused(
                f"{what}: the Prefect API at {self.api_url} refused the credentials "
                f"({short(error)})",
                hint="set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (a server "
                     "with basic auth), or check the active Prefect profile (invoke env.show)")
        suffix = " (gave up after retries)" if is_transient else ""
        return ApiError(f"{what}: {short(error)}{suffix}")


def refused(error: BaseException | None) -> bool:
    """A 401/403 answer: the credentials, not the server, are the problem."""
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code in (401, 403)


def transient(error: Exception) -> bool:
    """A failure that retrying may cure: the connection, a busy server, a 5xx."""
    if isinstance(error, httpx.TransportError | ServerBusy):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in (408, 429) or error.response.status_code >= 500
    return False


def short(error: BaseException) -> str:
    """One line about a failure, for a message."""
    if isinstance(error, httpx.HTTPStatusError):
        text = detail(error.response)
        return f"HTTP {error.response.status_code}{': ' + text if text else ''}"
    text_lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text_lines[0]}" if text_lines else type(error).__name__
