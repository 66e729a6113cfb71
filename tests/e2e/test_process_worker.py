"""A deployed flow really runs: deploy rpa1 with the CLI, start a process worker, run it.

The worker is ``prefect worker start --type process`` as a subprocess; it pulls
the deployment, runs ``set_working_directory`` into the repository copy, imports
the flow from its entrypoint and runs it. The flow's result is persisted to a
local folder, so the test reads the dict the flow returned and compares it with
values computed here, independently, from the flow's data file.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    FLOW_NAMES,
    Namespace,
    cli_env,
    client,
    deployment,
    isolate_repo,
    run_cli,
)

pytestmark = pytest.mark.e2e

RUN_TIMEOUT = 180.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the worker and the flow-run processes it started (its process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


@pytest.fixture()
def deployed(repo_copy: Path, prefect_api: str) -> tuple[Path, Namespace]:
    namespace = isolate_repo(repo_copy)
    result = run_cli(repo_copy, "deploy.python", "--env", "dev", "--flow", "rpa1", "--json",
                     api_url=prefect_api)
    assert result.code == 0, result.describe()
    return repo_copy, namespace


@pytest.fixture()
def worker(deployed: tuple[Path, Namespace], prefect_api: str,
           tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A process worker polling the deployment's pool, persisting results under tmp_path."""
    _root, namespace = deployed
    results = tmp_path / "results"
    home = tmp_path / "worker-home"
    home.mkdir()
    env = cli_env(prefect_api, {
        "PREFECT_HOME": str(home),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(results),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    })
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool",
               namespace.pool("python"), "--type", "process", "--name", f"e2e-{namespace.uid}"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        yield {"process": process, "log": log, "results": results}
    finally:
        _stop(process)


def _worker_log(worker: dict[str, Any]) -> str:
    return worker["log"].read_text(errors="replace")[-8000:]


def _expected_from_data(root: Path) -> dict[str, Any]:
    """What rpa1 must report, computed from its CSV without the flow's code."""
    with (root / "flows/rpa1/data/invoices.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids = [r["invoice_id"] for r in rows]
    return {"records": len(rows), "ids": set(ids)}


def test_deployed_flow_runs_on_a_process_worker(deployed: tuple[Path, Namespace],
                                                worker: dict[str, Any],
                                                prefect_api: str) -> None:
    root, namespace = deployed
    name = namespace.name("rpa1")
    live = deployment(prefect_api, FLOW_NAMES["rpa1"], name)
    assert live.parameters == {"batch_size": 100, "cleanup": True}

    with client(prefect_api) as prefect:
        run = prefect.create_flow_run_from_deployment(live.id)
        deadline = time.monotonic() + RUN_TIMEOUT
        state = None
        while time.monotonic() < deadline:
            run = prefect.read_flow_run(run.id)
            state = run.state
            if state is not None and state.type.value in FINAL:
                break
            if worker["process"].poll() is not None:
                pytest.fail(f"the worker exited with {worker['process'].returncode}:\n"
                            f"{_worker_log(worker)}")
            time.sleep(1)
    assert state is not None and state.is_completed(), (
        f"flow run {run.name} ended {state.type.value if state else 'without a state'} "
        f"({state.message if state else ''}) in {RUN_TIMEOUT:.0f} s; worker log:\n"
        f"{_worker_log(worker)}")
    assert run.deployment_id == live.id
    assert run.work_queue_name == "default"

    # The flow's own return value, read back from its persisted result.
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: worker["results"]}):
        result = state.result()
    expected = _expected_from_data(root)
    assert result["records"] == expected["records"]
    assert result["valid"] + result["invalid"] == expected["records"]
    assert set(result["rejected_ids"]) <= expected["ids"] | {""}
    assert result["invalid"] == len(result["rejected_ids"])
    assert result["batches"] == math.ceil(result["valid"] / 100)  # batch_size from the config
    assert result["cleaned_up"] is True  # development's default parameter cleanup: true
    assert result["currency"] == "EUR" and result["source_file"] == "invoices.csv"
    assert not Path(result["staging_dir"]).exists(), "cleanup: true must remove the staging dir"
