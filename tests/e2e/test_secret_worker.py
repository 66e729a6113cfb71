"""A value of ``env_vars`` reaches a real worker's run through a Secret block, and only there.

The flow prints and returns the SHA-256 of ``API_TOKEN`` as its run sees it; the
deployment holds only ``{{ prefect.blocks.secret.<name> }}``. The value is searched for
(and must be absent) in every output of the tool, every file under ``build/`` and every
deployment, flow and work pool on the server; a changed value updates the block (the plan
says so without the value) and the next run sees it; unchanged redeploys send no write.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    CliResult,
    Namespace,
    cli_env,
    client,
    edit_config,
    isolate_repo,
    run_cli,
    server_dump,
)

pytestmark = pytest.mark.e2e

RUN_TIMEOUT = 180.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
FLOW = '''"""Report a hash of the token the run was given."""

import hashlib
import os

from prefect import flow


@flow(name="secret-reader", log_prints=True)
def secret_reader() -> dict:
    """The SHA-256 of API_TOKEN as this run sees it (never the value)."""
    seen = hashlib.sha256(os.environ.get("API_TOKEN", "").encode()).hexdigest()
    print(f"API_TOKEN sha256 {seen}")
    return {"sha256": seen}
'''


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture()
def repo(repo_copy: Path) -> tuple[Path, Namespace]:
    namespace = isolate_repo(repo_copy)
    folder = repo_copy / "flows" / "secretflow"
    folder.mkdir()
    (folder / "workflow.py").write_text(FLOW, encoding="utf-8")

    def config(data: dict[str, Any]) -> None:
        data["defaults"]["kinds"] = ["python"]
        data.setdefault("flows", {})["secretflow"] = {"env_vars": ["API_TOKEN"]}

    edit_config(repo_copy, config)
    return repo_copy, namespace


def write_token(root: Path) -> str:
    token = "tok-" + secrets.token_hex(12)
    (root / "flows" / "secretflow" / ".env").write_text(f"API_TOKEN={token}\n")
    return token


@pytest.fixture()
def worker(repo: tuple[Path, Namespace], prefect_api: str,
           tmp_path: Path) -> Iterator[dict[str, Any]]:
    _root, namespace = repo
    results = tmp_path / "results"
    env = cli_env(prefect_api, {
        "PREFECT_HOME": str(tmp_path / "worker-home"),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOCAL_STORAGE_PATH": str(results),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    })
    env.pop("API_TOKEN", None)
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool",
               namespace.pool("python"), "--type", "process", "--name", f"sec-{namespace.uid}"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        yield {"process": process, "log": log, "results": results}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _run(api: str, deployment_id: Any, worker: dict[str, Any]) -> tuple[str, list[str]]:
    """One run to a final state: the hash it returned, and its log lines."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    with client(api) as prefect:
        run = prefect.create_flow_run_from_deployment(deployment_id)
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            run = prefect.read_flow_run(run.id)
            if run.state is not None and run.state.type.value in FINAL:
                break
            assert worker["process"].poll() is None, worker["log"].read_text()[-6000:]
            time.sleep(1)
        deadline = time.monotonic() + 20  # the run's logs arrive in batches, after it ends
        while True:
            logs = prefect.read_logs(log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            if any("sha256" in entry.message for entry in logs) or time.monotonic() > deadline:
                break
            time.sleep(1)
    state = run.state
    assert state is not None and state.is_completed(), (
        f"{state.type.value if state else 'no state'} ({state.message if state else ''}); "
        f"worker log:\n{worker['log'].read_text(errors='replace')[-6000:]}")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: worker["results"]}):
        return state.result()["sha256"], [entry.message for entry in logs]


def test_a_secret_block_reaches_the_run_and_nothing_else(
        repo: tuple[Path, Namespace], worker: dict[str, Any], prefect_api: str) -> None:
    root, namespace = repo
    runs: list[CliResult] = []

    def cli(*args: str) -> CliResult:
        done = run_cli(root, *args, api_url=prefect_api)
        assert done.code == 0, done.describe()
        runs.append(done)
        return done

    token = write_token(root)
    plan = cli("deploy.test", "--flow", "secretflow", "--json").json()
    [block] = [change["name"] for change in plan["secrets"] if change["action"] == "create"]
    deployed = cli("deploy.python", "--flow", "secretflow", "--json").json()
    assert deployed["secrets_written"] == [block]
    with client(prefect_api) as prefect:
        live = prefect.read_deployment_by_name(f"secret-reader/{namespace.name('secretflow')}")
    assert live.job_variables["env"] == {"API_TOKEN": "{{ prefect.blocks.secret." + block
                                         + " }}"}
    seen, logs = _run(prefect_api, live.id, worker)
    assert seen == sha(token)
    assert any(f"API_TOKEN sha256 {sha(token)}" in line for line in logs), logs

    unchanged = cli("deploy.python", "--flow", "secretflow", "--json").json()
    assert unchanged["requests"]["writes"] == 0 and unchanged["secrets_written"] == []

    second = write_token(root)
    changed = cli("deploy.test", "--flow", "secretflow")
    assert f"secret block '{block}' (API_TOKEN): value changed (not shown)" in changed.stdout
    cli("deploy.python", "--flow", "secretflow")
    cli("deploy.build", "--flow", "secretflow", "--json")
    cli("deploy.check", "--flow", "secretflow", "--json")
    seen, _logs = _run(prefect_api, live.id, worker)
    assert seen == sha(second)

    # Cleaning the deployment offers its now orphaned block: listed in a dry run, then gone.
    name = namespace.name("secretflow")
    dry = cli("deploy.clean", "--pattern", name, "--dry-run", "--json").json()
    assert dry["orphan_secrets"] == [block] and dry["secrets_deleted"] == []
    assert _block_exists(prefect_api, block)
    cleaned = cli("deploy.clean", "--pattern", name, "--json").json()
    assert cleaned["deleted"] == [name] and cleaned["secrets_deleted"] == [block]
    assert not _block_exists(prefect_api, block)

    values = {"first": token, "second": second}
    haystacks = {f"{' '.join(r.args)} {stream}": text for r in runs
                 for stream, text in (("stdout", r.stdout), ("stderr", r.stderr))}
    haystacks.update({str(p): p.read_text(errors="replace")
                      for p in (root / "build").rglob("*") if p.is_file()})
    haystacks["server"] = json.dumps(server_dump(prefect_api))
    found = [f"{label} in {where}" for where, text in haystacks.items()
             for label, value in values.items() if value in text]
    assert found == []


def _block_exists(api: str, block: str) -> bool:
    from prefect.exceptions import ObjectNotFound

    with client(api) as prefect:
        try:
            prefect.read_block_document_by_name(block, "secret")
        except ObjectNotFound:
            return False
    return True
