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
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    CliResult,
    Namespace,
    client,
    edit_config,
    isolate_repo,
    run_cli,
    server_dump,
)
from tests.support.workers import Worker, completed, logs_with, running_worker

pytestmark = pytest.mark.e2e

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
           tmp_path: Path) -> Iterator[Worker]:
    """A process worker that does not inherit API_TOKEN: the run gets it from the block."""
    _root, namespace = repo
    with running_worker(prefect_api, namespace.pool("python"), tmp_path,
                        unset=("API_TOKEN",)) as started:
        yield started


def _run(api: str, deployment_id: Any, worker: Worker) -> tuple[str, list[str]]:
    """One run to completion: the hash it returned, and its log lines."""
    run = completed(api, deployment_id, worker)
    return worker.result(run.state)["sha256"], logs_with(api, run.id, "API_TOKEN sha256")


def test_a_secret_block_reaches_the_run_and_nothing_else(
        repo: tuple[Path, Namespace], worker: Worker, prefect_api: str) -> None:
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
