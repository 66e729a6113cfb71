"""Real Prefect workers for the end-to-end tests: start one, run a deployment to its end.

A worker is ``prefect worker start`` as a subprocess in a session of its own (so stopping
it also stops the flow-run processes it started), with its own ``PREFECT_HOME`` and a
results folder the flows persist their return values to: a test reads back what a flow
returned, not only that it completed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import cli_env, client

RUN_TIMEOUT = 180.0
DOCKER_RUN_TIMEOUT = 300.0  # a container run may pull its image first
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    results: Path  # where the flow runs persist their results

    def text(self) -> str:
        """The end of the worker's log, for a failure message."""
        return self.log.read_text(errors="replace")[-10000:]

    def result(self, state: Any) -> Any:
        """What the flow run that ended in ``state`` returned."""
        from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

        with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: self.results}):
            return state.result()


@contextmanager
def running_worker(api_url: str, pool: str, folder: Path, *, kind: str = "process",
                   cwd: Path | None = None, unset: tuple[str, ...] = ()) -> Iterator[Worker]:
    """A worker of ``kind`` polling ``pool``; its home, log and results under ``folder``.

    ``cwd`` is where it starts (``folder`` unless given); ``unset`` names environment
    variables it must not inherit (a value the test expects to reach it another way)."""
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / f"{kind}-worker-home"
    home.mkdir()
    results = folder / "results"
    env = cli_env(api_url, {
        "PREFECT_HOME": str(home),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(results),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    })
    for name in unset:
        env.pop(name, None)
    log = folder / f"{kind}-worker.log"
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
               "--type", kind, "--name", f"e2e-{pool}"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=cwd or folder, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        yield Worker(process, log, results)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (the worker's graceful stop), then SIGKILL of its whole process group."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def run_to_final(api_url: str, deployment_id: Any, worker: Worker,
                 timeout: float = RUN_TIMEOUT) -> Any:
    """Create a flow run of the deployment and wait for a final state; the run as last
    read (a test failure at once if the worker exits meanwhile)."""
    with client(api_url) as prefect:
        run = prefect.create_flow_run_from_deployment(deployment_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = prefect.read_flow_run(run.id)
            if run.state is not None and run.state.type.value in FINAL:
                return run
            if worker.process.poll() is not None:
                pytest.fail(f"the worker exited with {worker.process.returncode}:\n"
                            f"{worker.text()}")
            time.sleep(1)
    return run


def completed(api_url: str, deployment_id: Any, worker: Worker,
              timeout: float = RUN_TIMEOUT) -> Any:
    """A flow run of the deployment that completed (the test fails with the worker's log
    otherwise); the run as last read."""
    run = run_to_final(api_url, deployment_id, worker, timeout)
    state = run.state
    assert state is not None and state.is_completed(), (
        f"flow run {run.name} ended {state.type.value if state else 'without a state'} "
        f"({state.message if state else ''}) within {timeout:.0f} s; worker log:\n"
        f"{worker.text()}")
    return run


def flow_run_logs(api_url: str, flow_run_id: Any) -> list[str]:
    """Every log message of a flow run, page by page."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with client(api_url) as prefect:
        found = []
        while True:
            page = prefect.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                limit=200, offset=len(found))
            found.extend(page)
            if len(page) < 200:
                return [entry.message for entry in found]


def logs_with(api_url: str, flow_run_id: Any, wanted: str, timeout: float = 30.0) -> list[str]:
    """The run's log messages once one contains ``wanted`` (a run's logs reach the server
    in batches, after it ended), or as they are when ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    logs = flow_run_logs(api_url, flow_run_id)
    while not any(wanted in line for line in logs) and time.monotonic() < deadline:
        time.sleep(1)
        logs = flow_run_logs(api_url, flow_run_id)
    return logs
