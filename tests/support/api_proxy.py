"""A loopback HTTP proxy in front of a real Prefect server, misbehaving the ways a shared or
hosted API does. One class, several policies (tests and benchmarks combine them):

- ``every=N``: answer 503 ``{"detail": "database is locked"}`` to every N-th write (what a
  SQLite-backed server does under load), optionally with ``Retry-After: <retry_after>``.
- ``limit=N, window=W``: a rate limit the way a hosted API (Prefect Cloud, a Cloudflare-style
  front) enforces it: at most N writes in any W seconds (a sliding log); a write over the
  limit is answered ``status`` (429, or 503) with ``Retry-After`` saying when a slot frees —
  whole seconds rounded up (``retry_after_form="seconds"``) or an HTTP date
  (``"date"``). A refused write never reaches the server.
- ``prefix="/api/accounts/A/workspaces/W"``: Prefect Cloud's URL shape: requests under the
  prefix are forwarded to ``/api/…``; a request to a bare ``/api/…`` is answered 404 (so a
  client that drops the workspace path fails). Anything else (the UI) is forwarded as is.
- ``hook=f``: ``f(method, path, parsed JSON body)`` runs before each forwarded request and
  may act on the real server first (through Prefect's client) — to make a deployment
  appear at the worst moment of a deploy.

Writes are POST/PUT/PATCH/DELETE whose path does not end in ``/filter``, ``/count`` or
``/paginate`` (Prefect reads with POST …/filter). The proxy records every write, what it
refused, and **writes that arrived while the client had been told to wait** (``early``):
after a refusal was sent and before its ``Retry-After`` ran out. A request the client
had already sent when the refusal reached it cannot have known; writes arriving within
``grace`` seconds of the refusal are therefore not counted (on loopback they arrive within
milliseconds; a client that ignores ``Retry-After`` retries well after that).
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

READ_SUFFIXES = ("/filter", "/count", "/paginate")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "date",
               "server"}
Hook = Callable[[str, str, Any], None]  # (method, path, parsed JSON body)


def is_write(method: str, path: str) -> bool:
    """A request that changes the server (what a write rate limit counts)."""
    return method in {"POST", "PUT", "PATCH", "DELETE"} and \
        not urlsplit(path).path.rstrip("/").endswith(READ_SUFFIXES)


class ApiProxy:
    """A threaded loopback proxy; use as a context manager (``with ApiProxy(…) as proxy``)."""

    def __init__(self, upstream: str, *, every: int | None = None,
                 retry_after: str | None = None, limit: int | None = None,
                 window: float = 1.0, status: int = 429, retry_after_form: str = "seconds",
                 prefix: str = "", grace: float = 0.5, hook: Hook | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.every, self.retry_after = every, retry_after
        self.limit, self.window, self.status = limit, window, status
        self.retry_after_form, self.prefix, self.grace = retry_after_form, prefix, grace
        self.hook = hook
        self.writes = 0
        self.refused: list[str] = []
        self.forwarded: list[str] = []
        self.early: list[str] = []
        self.not_prefixed: list[str] = []
        self.paths: list[str] = []  # every request as it arrived (method and path)
        self.answered: list[tuple[str, int]] = []  # forwarded writes and the server's status
        self.authorization: set[str] = set()  # every Authorization header the client sent
        self.bodies: list[tuple[str, bytes]] = []  # every forwarded write and its body
        self.server_errors: list[str] = []  # requests the server itself answered 5xx
        self._recent: deque[float] = deque()  # times of forwarded writes (rate limit)
        self._told: list[tuple[float, float]] = []  # (refusal sent, wait until)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """The API URL a client should use (with the Cloud-shaped prefix, when set)."""
        return f"{self.origin}{self.prefix or '/api'}"

    def __enter__(self) -> ApiProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # Policies ---------------------------------------------------------------------------

    def decide(self, method: str, path: str) -> tuple[int, dict[str, str]] | None:
        """None to forward; else the status and headers of the refusal."""
        with self._lock:
            self.paths.append(f"{method} {path}")
            if not is_write(method, path):
                return None
            now = time.time()
            self.writes += 1
            if any(sent + self.grace < now < until for sent, until in self._told):
                self.early.append(f"{method} {path}")
            refusal = self._flaky() if self.every else None
            if refusal is None and self.limit:
                refusal = self._over_limit(now)
            if refusal is None:
                self.forwarded.append(f"{method} {path}")
                self._recent.append(now)
                return None
            self.refused.append(f"{method} {path}")
            return refusal

    def _flaky(self) -> tuple[int, dict[str, str]] | None:
        if self.every and self.writes % self.every == 0:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return 503, headers
        return None

    def _over_limit(self, now: float) -> tuple[int, dict[str, str]] | None:
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        if self.limit is None or len(self._recent) < self.limit:
            return None
        seconds = max(1, math.ceil(self._recent[0] + self.window - now))
        until = now + seconds
        if self.retry_after_form == "date":  # whole seconds: the next second boundary after
            until = math.ceil(until)
            value = formatdate(until, usegmt=True)
        else:
            value = str(seconds)
        self._told = [(s, u) for s, u in self._told if u > now] + [(now, until)]
        return self.status, {"Retry-After": value}

    def accepted_writes(self) -> list[str]:
        """Writes the server itself accepted (2xx): a server's own 503 is retried, not kept."""
        with self._lock:
            return [what for what, status in self.answered if 200 <= status < 300]

    def upstream_path(self, path: str) -> str | None:
        """The server's path for a request path (None: not under the Cloud-shaped prefix)."""
        if not self.prefix:
            return path
        if path == self.prefix or path.startswith(self.prefix + "/") or \
                path.startswith(self.prefix + "?"):
            return "/api" + path[len(self.prefix):]
        if path == "/api" or path.startswith("/api/"):
            with self._lock:
                self.not_prefixed.append(path)
            return None
        return path

    def forward(self, method: str, path: str, headers: dict[str, str],
                body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port,
                                                timeout=60)
        try:
            kept = {k: v for k, v in headers.items()
                    if k.lower() not in {"host", "connection", "keep-alive"}}
            connection.request(method, path, body=body or None, headers=kept)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _handler(proxy: ApiProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest's output clean
            pass

        def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in HOP_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Authorization"):
                with proxy._lock:
                    proxy.authorization.add(self.headers["Authorization"])
            target = proxy.upstream_path(self.path)
            if target is None:
                self._reply(404, [("Content-Type", "application/json")],
                            json.dumps({"detail": "Not Found (no workspace in the path)"})
                            .encode())
                return
            refusal = proxy.decide(self.command, target)
            if refusal is not None:
                status, extra = refusal
                detail = "database is locked" if proxy.every else "Rate limit exceeded"
                self._reply(status, [("Content-Type", "application/json"), *extra.items()],
                            json.dumps({"detail": detail}).encode())
                return
            if proxy.hook is not None:
                proxy.hook(self.command, urlsplit(target).path, _parsed(body))
            status, headers, data = proxy.forward(self.command, target,
                                                  dict(self.headers.items()), body)
            if status >= 500:
                with proxy._lock:
                    proxy.server_errors.append(f"{self.command} {target} -> {status}")
            if is_write(self.command, target):
                with proxy._lock:
                    proxy.answered.append((f"{self.command} {target}", status))
                    proxy.bodies.append((f"{self.command} {target}", body))
            self._reply(status, headers, data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


def _parsed(body: bytes) -> Any:
    """A request's JSON body (None when it has none, or it is not JSON)."""
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
