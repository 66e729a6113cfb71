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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import FLOW_NAMES, Namespace, deployment, isolate_repo, run_cli
from tests.support.workers import Worker, completed, running_worker

pytestmark = pytest.mark.e2e


@pytest.fixture()
def deployed(repo_copy: Path, prefect_api: str) -> tuple[Path, Namespace]:
    namespace = isolate_repo(repo_copy)
    result = run_cli(repo_copy, "deploy.python", "--env", "dev", "--flow", "rpa1", "--json",
                     api_url=prefect_api)
    assert result.code == 0, result.describe()
    return repo_copy, namespace


@pytest.fixture()
def worker(deployed: tuple[Path, Namespace], prefect_api: str,
           tmp_path: Path) -> Iterator[Worker]:
    """A process worker polling the deployment's pool, persisting results under tmp_path."""
    _root, namespace = deployed
    with running_worker(prefect_api, namespace.pool("python"), tmp_path) as started:
        yield started


def _expected_from_data(root: Path) -> dict[str, Any]:
    """What rpa1 must report, computed from its CSV without the flow's code."""
    with (root / "flows/rpa1/data/invoices.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids = [r["invoice_id"] for r in rows]
    return {"records": len(rows), "ids": set(ids)}


def test_deployed_flow_runs_on_a_process_worker(deployed: tuple[Path, Namespace],
                                                worker: Worker,
                                                prefect_api: str) -> None:
    root, namespace = deployed
    name = namespace.name("rpa1")
    live = deployment(prefect_api, FLOW_NAMES["rpa1"], name)
    assert live.parameters == {"batch_size": 100, "cleanup": True}

    run = completed(prefect_api, live.id, worker)
    assert run.deployment_id == live.id
    assert run.work_queue_name == "default"

    result = worker.result(run.state)  # the flow's own return value, read back
    expected = _expected_from_data(root)
    assert result["records"] == expected["records"]
    assert result["valid"] + result["invalid"] == expected["records"]
    assert set(result["rejected_ids"]) <= expected["ids"] | {""}
    assert result["invalid"] == len(result["rejected_ids"])
    assert result["batches"] == math.ceil(result["valid"] / 100)  # batch_size from the config
    assert result["cleaned_up"] is True  # development's default parameter cleanup: true
    assert result["currency"] == "EUR" and result["source_file"] == "invoices.csv"
    assert not Path(result["staging_dir"]).exists(), "cleanup: true must remove the staging dir"
