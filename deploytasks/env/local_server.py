"""The embedded Prefect server: SQLite, under the repository's git-ignored state folder.

``env.up`` starts it in the background and records its PID and port; the tool
uses it whenever ``PREFECT_API_URL`` is not set. The tests start their own
instances through the same class, on free ports with their own home folders.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deploytasks import paths
from deploytasks.errors import ServiceUnavailable, UsageError

DEFAULT_PORT = 4200
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class ServerState:
    """What ``env.up`` records about a running server."""

    pid: int
    port: int
    home: str
    log: str

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalServer:
    """A Prefect server process with its own home folder, started and stopped by PID."""

    def __init__(self, folder: Path, database_url: str | None = None) -> None:
        self.folder = folder
        self.state_file = folder / "server.json"
        self.database_url = database_url  # None: SQLite in the home folder

    @classmethod
    def for_repo(cls, root: Path) -> LocalServer:
        """The repository's embedded server under ``.deploytasks/server``."""
        return cls(paths.state_dir(root) / "server")

    def state(self) -> ServerState | None:
        """The recorded server, if its process is still alive."""
        try:
            state = ServerState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return state if _alive(state.pid) else None

    def start(self, port: int | None = None, timeout: float = START_TIMEOUT) -> ServerState:
        """Start the server (or return the running one) and wait until it is healthy."""
        running = self.state()
        if running is not None:
            wait_healthy(running.api_url, timeout)
            return running
        if port and not _port_free(port):
            raise UsageError(f"port {port} is taken: something already listens on "
                             f"127.0.0.1:{port}", where="--port",
                             hint="choose another port, or leave --port out to take 4200 "
                                  "or a free one")
        chosen = port or (DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port())
        home = self.folder / "home"
        home.mkdir(parents=True, exist_ok=True)
        log = self.folder / "server.log"
        database = self.database_url or f"sqlite+aiosqlite:///{home / 'prefect.db'}"
        process = _spawn(chosen, home, log, database)
        state = ServerState(process.pid, chosen, str(home), str(log))
        self.state_file.write_text(json.dumps(asdict(state)))
        try:
            wait_healthy(state.api_url, timeout, process, log)
        except ServiceUnavailable:
            self.stop()
            raise
        return state

    def stop(self) -> ServerState | None:
        """Stop the recorded server; return what was stopped (None if nothing ran)."""
        state = self.state()
        if state is not None:
            _terminate(state.pid)
        self.state_file.unlink(missing_ok=True)
        return state


def _spawn(port: int, home: Path, log: Path, database: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
    }
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "prefect", "server", "start",
               "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as handle:
        return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_healthy(api_url: str, timeout: float, process: subprocess.Popen[bytes] | None = None,
                 log: Path | None = None) -> None:
    """Poll ``/health`` until it answers; fail early, with the log's last line, if the
    process died."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            last = _last_log_line(log)
            raise ServiceUnavailable(
                f"the Prefect server for {api_url} exited with code {process.returncode}"
                + (f": {last}" if last else ""),
                hint=f"read its log: {log}" if log else "read its log")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ServiceUnavailable(f"the Prefect server at {api_url} did not become healthy "
                             f"within {timeout:.0f} s", hint="read its log; is the port taken?")


def _last_log_line(log: Path | None) -> str:
    """The last non-empty line of a server log (what it died of, usually)."""
    if log is None or not log.is_file():
        return ""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")[:300]


def _terminate(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
