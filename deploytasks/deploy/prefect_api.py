"""Everything that talks to the Prefect API, through Prefect's own client.

One client for the whole run (Prefect's ``deploy`` opens about five per
deployment). Prefect's built-in retry backs off ~2 s per 503 and waits per
request; we turn it off and retry transient failures ourselves: a short,
growing backoff for a 503 without ``Retry-After``, one wait shared by every
request of the run when the server says how long (429/503 ``Retry-After``,
see ``throttle.py``), and a breaker that stops hammering a server that is
gone. Requests are counted, so a run can prove it sent no writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import (
    DeploymentScheduleCreate,
    DeploymentUpdate,
    WorkPoolCreate,
)
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    DeploymentFilterTags,
    FlowFilter,
    FlowFilterId,
    FlowFilterName,
    VariableFilter,
    VariableFilterTags,
)
from prefect.client.schemas.objects import WorkPool
from prefect.client.schemas.responses import DeploymentResponse
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.plan import RemoteDeployment, RemoteSchedule
from deploytasks.deploy.records import AppliedRecord, parse_record, record_name
from deploytasks.deploy.specs import DeploymentSpec, Schedule
from deploytasks.deploy.throttle import PaceStats, Throttle, parse_retry_after
from deploytasks.errors import EXIT_USAGE, DeployTasksError, ServiceUnavailable

T = TypeVar("T")
PAGE = 200
BUDGET_HINT = "run the same command again later, or raise prefect.wait_budget"
READ_SUFFIXES = ("/filter", "/count", "/paginate", "/health")


class ApiError(DeployTasksError):
    """The server refused one request (after retries, where retrying made sense)."""


class CredentialsRefused(ApiError):
    """The server answered 401/403: the key or auth string is wrong or missing."""

    exit_code = EXIT_USAGE


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
        super().__init__(f"HTTP {response.status_code}: {_detail(response)}")
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


@dataclass
class Breaker:
    """Opens after the server stayed unreachable through a whole retry budget."""

    open: bool = False
    reason: str = ""


@dataclass
class PrefectGateway:
    """An open connection to one Prefect API."""

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

    async def __aenter__(self) -> PrefectGateway:
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
                f"Prefect API not reachable at {self.api_url} ({_short(problem)})",
                hint="start the local server (invoke env.up / make server-up) "
                     "or set PREFECT_API_URL to a running server")
        return self

    async def _health(self) -> BaseException | None:
        """None when the API answers; a rate-limited or busy answer is waited out like any
        other request's (on a hosted API the health check counts against the limit too)."""
        async def check() -> BaseException | None:
            problem = await self.client.api_healthcheck()
            if isinstance(problem, ServerBusy) or _refused(problem):
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
                transient = _transient(error)
                if not transient:
                    raise self._failure(what, error, transient) from None
                if isinstance(error, ServerBusy):
                    self.throttle.busy(sent_at)
                    if error.retry_after:
                        self._wait_as_told(what, error, error.retry_after)
                        self.counter.retries += 1
                        continue
                attempt += 1
                if attempt > self.retries:
                    raise self._failure(what, error, transient) from None
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

    def _failure(self, what: str, error: Exception, transient: bool) -> DeployTasksError:
        if isinstance(error, httpx.TransportError):
            self.breaker.open = True
            self.breaker.reason = f"the Prefect API at {self.api_url} stopped answering"
            return ServiceUnavailable(f"{what}: {self.breaker.reason} ({_short(error)})",
                                      hint="check the server; a re-run finishes the rest")
        if _refused(error):
            return CredentialsRefused(
                f"{what}: the Prefect API at {self.api_url} refused the credentials "
                f"({_short(error)})",
                hint="set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (a server "
                     "with basic auth), or check the active Prefect profile (invoke env.show)")
        suffix = " (gave up after retries)" if transient else ""
        return ApiError(f"{what}: {_short(error)}{suffix}")

    # Reads ---------------------------------------------------------------

    async def read_deployments(self, ownership: Ownership,
                               names: list[str]) -> list[RemoteDeployment]:
        """This project's deployments (a server-side tag filter), plus any deployment named
        like one we want, whoever it belongs to (conflicts)."""
        tagged = await self._read_all(DeploymentFilter(
            tags=DeploymentFilterTags(all_=list(ownership.tags))))
        named = await self._read_all(DeploymentFilter(
            name=DeploymentFilterName(any_=names))) if names else []
        unique = {str(d.id): d for d in [*tagged, *named]}
        flow_names = await self._flow_names({d.flow_id for d in unique.values()})
        return [snapshot(d, flow_names.get(str(d.flow_id), "?")) for d in unique.values()]

    async def read_deployment_named(self, flow_name: str, name: str) -> RemoteDeployment | None:
        """One deployment by flow and name, as it is now (None: there is none)."""
        found = await self._read_all(DeploymentFilter(name=DeploymentFilterName(any_=[name])),
                                     FlowFilter(name=FlowFilterName(any_=[flow_name])))
        return snapshot(found[0], flow_name) if found else None

    async def _read_all(self, deployment_filter: DeploymentFilter,
                        flow_filter: FlowFilter | None = None) -> list[DeploymentResponse]:
        found: list[DeploymentResponse] = []
        while True:
            page = await self.call("read deployments", self.client.read_deployments,
                                   deployment_filter=deployment_filter, flow_filter=flow_filter,
                                   limit=PAGE, offset=len(found))
            found.extend(page)
            if len(page) < PAGE:
                return found

    async def _flow_names(self, ids: set[Any]) -> dict[str, str]:
        names: dict[str, str] = {}
        ordered = sorted(ids, key=str)
        for start in range(0, len(ordered), PAGE):
            chunk = ordered[start:start + PAGE]
            flows = await self.call("read flows", self.client.read_flows,
                                    flow_filter=FlowFilter(id=FlowFilterId(any_=chunk)),
                                    limit=PAGE)
            names.update({str(f.id): f.name for f in flows})
        return names

    async def read_work_pools(self) -> dict[str, WorkPool]:
        """Every work pool on the server, by name."""
        pools = await self.call("read work pools", self.client.read_work_pools)
        return {pool.name: pool for pool in pools}

    async def pool_has_workers(self, pool: str) -> bool:
        """True when at least one worker polled the pool recently."""
        workers = await self.call(f"read workers of {pool}",
                                  self.client.read_workers_for_work_pool, pool)
        return any(w.status == "ONLINE" for w in workers)

    async def ui_problem(self, ui_url: str) -> str | None:
        """None when the UI answers with its page; otherwise what is wrong."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(ui_url + "/")
        except httpx.HTTPError as error:
            return f"the UI at {ui_url} does not answer ({_short(error)})"
        if response.status_code != 200 or "<html" not in response.text.lower():
            return (f"the UI at {ui_url} answered HTTP {response.status_code} without its page "
                    "(is the server started with the UI enabled?)")
        return None

    # Writes --------------------------------------------------------------

    async def create_work_pool(self, name: str, kind: str, template: dict[str, Any],
                               description: str | None = None) -> None:
        """Create a work pool from a base job template."""
        create = WorkPoolCreate(name=name, type=kind, base_job_template=template,
                                description=description)
        await self.call(f"create work pool {name}", self.client.create_work_pool,
                        work_pool=create)

    async def ensure_flow(self, flow_name: str) -> Any:
        """The flow's id, creating the flow if the server does not know it yet."""
        return await self.call(f"register flow {flow_name}",
                               self.client.create_flow_from_name, flow_name)

    async def create_deployment(self, spec: DeploymentSpec, flow_id: Any) -> str:
        """Create one deployment (schedules included) and return its id. Prefect upserts:
        ``took_over(id)`` tells afterwards whether the create hit an existing row."""
        deployment_id = await self.call(
            f"create {spec.name}", self.client.create_deployment,
            flow_id=flow_id, name=spec.name, version=spec.version,
            schedules=[_schedule_create(s) for s in spec.schedules],
            concurrency_limit=spec.concurrency_limit, parameters=spec.parameters,
            description=spec.description, work_queue_name=spec.work_queue,
            work_pool_name=spec.work_pool, tags=list(spec.tags), entrypoint=spec.entrypoint,
            parameter_openapi_schema=spec.parameter_schema, pull_steps=list(spec.pull_steps),
            enforce_parameter_schema=spec.enforce_parameter_schema,
            job_variables=spec.job_variables)
        return str(deployment_id)

    async def update_deployment(self, remote: RemoteDeployment, spec: DeploymentSpec,
                                fields: set[str]) -> None:
        """Send only the changed fields; schedules are synced one by one (see below)."""
        values = {k: v for k, v in _update_values(spec).items() if k in fields}
        if values:
            update = DeploymentUpdate(**values)
            await self.call(f"update {spec.name}", self.client.update_deployment,
                            UUID(remote.id), update)
        if "schedules" in fields:
            await self._sync_schedules(remote, spec)

    async def _sync_schedules(self, remote: RemoteDeployment, spec: DeploymentSpec) -> None:
        """Add missing schedules, drop removed ones, leave matching ones (and their paused
        state, perhaps set in the UI) alone."""
        wanted = {s.identity(): s for s in spec.schedules}
        have = {s.identity: s for s in remote.schedules}
        for identity, schedule in have.items():
            if identity not in wanted:
                await self.call(f"remove a schedule of {spec.name}",
                                self.client.delete_deployment_schedule, UUID(remote.id),
                                UUID(schedule.id))
        new = [_schedule_create(s) for i, s in wanted.items() if i not in have]
        if new:
            await self.call(f"add schedules to {spec.name}",
                            self.client.create_deployment_schedules, UUID(remote.id), new)

    async def delete_deployment(self, deployment_id: str, name: str) -> None:
        """Delete one deployment (callers check ownership first)."""
        await self.call(f"delete {name}", self.client.delete_deployment, UUID(deployment_id))

    async def set_tags(self, deployment_id: str, name: str, tags: list[str]) -> None:
        """Replace one deployment's tags, nothing else (``deploy.adopt``)."""
        await self.call(f"claim {name}", self.client.update_deployment, UUID(deployment_id),
                        DeploymentUpdate(tags=tags))

    # A create that took over an existing deployment -----------------------------------

    def took_over(self, deployment_id: str) -> str | None:
        """When our create upserted onto a row that existed before it: that row's ``updated``
        time as the server wrote it (or "" when it did not say); None for a new row."""
        status, updated = self.creates.answers.get(deployment_id, (201, None))
        return (updated or "") if status == 200 else None

    async def read_upsert_event(self, deployment_id: str,
                                since: str | None) -> dict[str, Any] | None:
        """The server's ``prefect.deployment.updated`` event of our upsert (its payload has
        from/to values per changed field); None while there is none (the server persists
        events every few seconds, and emits none when the upsert changed no field)."""
        from prefect.events.filters import (
            EventFilter,
            EventNameFilter,
            EventOccurredFilter,
            EventOrder,
            EventResourceFilter,
        )

        start = _server_time(since) - timedelta(seconds=1)
        wanted = EventFilter(
            occurred=EventOccurredFilter.model_validate(
                {"since": start, "until": start + timedelta(days=1)}),
            event=EventNameFilter(name=["prefect.deployment.updated"]),
            resource=EventResourceFilter(id=[f"prefect.deployment.{deployment_id}"]),
            order=EventOrder.ASC)
        page = await self.call("read events", self.client.read_events, filter=wanted, limit=5)
        return dict(page.events[0].payload) if page.events else None

    async def read_record(self, deployment_id: str) -> AppliedRecord | None:
        """One deployment's record, if it has one."""
        name = record_name(deployment_id)
        variable = await self.call("read record", self.client.read_variable_by_name, name)
        return parse_record(name, variable.value) if variable is not None else None

    async def restore_deployment(self, deployment_id: str, name: str,
                                 values: dict[str, Any]) -> None:
        """Put fields of a deployment we took over back, and drop the schedules we gave it."""
        if values:
            await self.call(f"restore {name}", self.client.update_deployment,
                            UUID(deployment_id), DeploymentUpdate(**values))
        schedules = await self.call(f"read schedules of {name}",
                                    self.client.read_deployment_schedules, UUID(deployment_id))
        for schedule in schedules:
            await self.call(f"remove our schedule from {name}",
                            self.client.delete_deployment_schedule, UUID(deployment_id),
                            schedule.id)

    async def work_queue_of(self, queue_id: str) -> tuple[str | None, str]:
        """A work queue's pool and name, by id."""
        queue = await self.call("read work queue", self.client.read_work_queue, UUID(queue_id))
        return queue.work_pool_name, queue.name

    # Records of what we applied (drift) -------------------------------------------------

    async def read_records(self, tags: list[str]) -> dict[str, AppliedRecord]:
        """Every record carrying ``tags``, by deployment id, in one paged read."""
        from prefect.client.schemas.objects import Variable

        records: dict[str, AppliedRecord] = {}
        wanted = VariableFilter(tags=VariableFilterTags(all_=tags)).model_dump(mode="json")
        offset = 0
        while True:
            response = await self.call("read records", self.client.request, "POST",
                                       "/variables/filter",
                                       json={"variables": wanted, "limit": PAGE,
                                             "offset": offset})
            page = Variable.model_validate_list(response.json())
            for variable in page:
                record = parse_record(variable.name, variable.value)
                if record is not None:
                    records[record.deployment_id] = record
            offset += len(page)
            if len(page) < PAGE:
                return records

    async def write_record(self, record: AppliedRecord, tags: list[str], *, exists: bool) -> None:
        """Create or replace one deployment's record."""
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate
        from prefect.exceptions import ObjectAlreadyExists

        update = VariableUpdate(name=record.variable_name, value=record.value(), tags=tags)

        async def create_or_update() -> None:
            try:
                await self.client.create_variable(VariableCreate(
                    name=record.variable_name, value=record.value(), tags=tags))
            except ObjectAlreadyExists:  # written meanwhile (another run): replace it
                await self.client.update_variable(update)

        what = f"record what was applied to {record.name}"
        if exists:
            await self.call(what, self.client.update_variable, update)
        else:
            await self.call(what, create_or_update)

    async def delete_record(self, variable_name: str) -> None:
        """Delete one record (a missing one is already what we want)."""
        from prefect.exceptions import ObjectNotFound

        async def delete() -> None:
            with contextlib.suppress(ObjectNotFound):
                await self.client.delete_variable_by_name(variable_name)

        await self.call(f"delete record {variable_name}", delete)


def snapshot(deployment: DeploymentResponse, flow_name: str) -> RemoteDeployment:
    """A server deployment in the spec's comparable shape."""
    schedules = tuple(RemoteSchedule(str(s.id), _identity(s.schedule), bool(s.active))
                      for s in deployment.schedules)
    limit = deployment.global_concurrency_limit.limit \
        if deployment.global_concurrency_limit is not None else None
    fields = {
        "description": deployment.description,
        "version": deployment.version,
        "tags": sorted(deployment.tags),
        "parameters": deployment.parameters,
        "parameter_openapi_schema": deployment.parameter_openapi_schema,
        "job_variables": deployment.job_variables,
        "work_pool_name": deployment.work_pool_name,
        "work_queue_name": deployment.work_queue_name,
        "entrypoint": deployment.entrypoint,
        "pull_steps": deployment.pull_steps,
        "enforce_parameter_schema": deployment.enforce_parameter_schema,
        "concurrency_limit": limit,
        "schedules": sorted(s.identity for s in schedules),
    }
    status = deployment.status.value if deployment.status else None
    return RemoteDeployment(str(deployment.id), deployment.name, flow_name,
                            tuple(deployment.tags), fields, schedules, status)


def _identity(schedule: Any) -> tuple[str, str, str | None]:
    if isinstance(schedule, CronSchedule):
        return ("cron", schedule.cron, schedule.timezone)
    if isinstance(schedule, IntervalSchedule):
        return ("interval", str(float(schedule.interval.total_seconds())), schedule.timezone)
    if isinstance(schedule, RRuleSchedule):
        return ("rrule", _without_default_start(schedule.rrule), schedule.timezone)
    return ("other", repr(schedule), None)


def _server_time(text: str | None) -> datetime:
    """A timestamp the server wrote (ISO 8601, perhaps with 'Z'); without one, ten minutes
    ago by our clock (an event filter starting there still finds the event)."""
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(timezone.utc) - timedelta(minutes=10)


def _without_default_start(rrule: str) -> str:
    """The rrule as configured: the server prepends Prefect's default start to one without."""
    from prefect.client.schemas.schedules import DEFAULT_ANCHOR_DATE

    default = f"DTSTART:{DEFAULT_ANCHOR_DATE.strftime('%Y%m%d')}T000000\n"
    return rrule.removeprefix(default)


def _schedule_create(schedule: Schedule) -> DeploymentScheduleCreate:
    return DeploymentScheduleCreate(schedule=to_prefect_schedule(schedule),
                                    active=schedule.active)


def to_prefect_schedule(schedule: Schedule) -> CronSchedule | IntervalSchedule | RRuleSchedule:
    """Our schedule as Prefect's schedule object (which validates cron and timezone)."""
    tz = schedule.timezone
    if schedule.kind == "cron":
        return CronSchedule(cron=str(schedule.value), timezone=tz)
    if schedule.kind == "interval":
        return IntervalSchedule(interval=timedelta(seconds=float(schedule.value)), timezone=tz)
    return RRuleSchedule(rrule=str(schedule.value), timezone=tz)


def _update_values(spec: DeploymentSpec) -> dict[str, Any]:
    comparable = spec.comparable()
    comparable.pop("schedules")
    comparable["tags"] = list(spec.tags)
    return comparable


def _refused(error: BaseException | None) -> bool:
    """A 401/403 answer: the credentials, not the server, are the problem."""
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code in (401, 403)


def _transient(error: Exception) -> bool:
    if isinstance(error, httpx.TransportError | ServerBusy):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in (408, 429) or error.response.status_code >= 500
    return False


def _short(error: BaseException) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        detail = _detail(error.response)
        return f"HTTP {error.response.status_code}{': ' + detail if detail else ''}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return str(detail)[:300]
