"""Concurrency options do what Prefect says, on a real process worker.

Two flows that sleep, each deployed with ``concurrency_limit: {limit: 1, …}``: one with
``collision_strategy: CANCEL_NEW``, one with ``ENQUEUE``. A real
``prefect worker start --type process`` runs them. With the first run of each still
running, a second run of the CANCEL_NEW deployment is cancelled by the server, and the
second run of the ENQUEUE deployment waits for the slot (``AwaitingConcurrencySlot``)
and completes after the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    Namespace,
    client,
    deployment,
    edit_config,
    isolate_repo,
    run_cli,
)
from tests.support.workers import Worker, running_worker

pytestmark = pytest.mark.e2e

TIMEOUT = 120.0
SLEEPER = '''"""Sleep: a run that holds its concurrency slot for a while."""

import time

from prefect import flow


@flow(name="{name}")
def sleeper(seconds: float = 12.0) -> float:
    """Hold the slot for ``seconds``."""
    time.sleep(seconds)
    return seconds
'''
STRATEGIES = {"sleeper_cancel": "CANCEL_NEW", "sleeper_queue": "ENQUEUE"}


def _flow_name(key: str) -> str:
    return key.replace("_", "-")


@pytest.fixture()
def deployed(repo_copy: Path, prefect_api: str) -> tuple[Path, Namespace]:
    namespace = isolate_repo(repo_copy)
    for key in STRATEGIES:
        folder = repo_copy / "flows" / key
        folder.mkdir()
        (folder / "workflow.py").write_text(SLEEPER.format(name=_flow_name(key)),
                                            encoding="utf-8")

    def limits(data: dict[str, Any]) -> None:
        for key, strategy in STRATEGIES.items():
            data["flows"][key] = {"kinds": ["python"], "concurrency_limit": {
                "limit": 1, "collision_strategy": strategy}}

    edit_config(repo_copy, limits)
    result = run_cli(repo_copy, "deploy.python", "--env", "dev", "--flow",
                     ",".join(STRATEGIES), "--json", api_url=prefect_api)
    assert result.code == 0, result.describe()
    return repo_copy, namespace


@pytest.fixture()
def worker(deployed: tuple[Path, Namespace], prefect_api: str,
           tmp_path: Path) -> Iterator[Worker]:
    _root, namespace = deployed
    with running_worker(prefect_api, namespace.pool("python"), tmp_path) as started:
        yield started


def _wait(prefect: Any, run_id: Any, done: Callable[[Any], bool], what: str,
          seen: set[str] | None = None) -> Any:
    """Poll a flow run until ``done(run)``; ``seen`` collects every state name passed."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        run = prefect.read_flow_run(run_id)
        if seen is not None and run.state is not None:
            seen.add(run.state.name)
        if run.state is not None and done(run):
            return run
        time.sleep(0.5)
    pytest.fail(f"flow run {run_id} never {what}; last state "
                f"{run.state.name if run.state else None}")


def _state(*types: str) -> Callable[[Any], bool]:
    return lambda run: run.state.type.value in types


def test_cancel_new_cancels_the_second_run_and_enqueue_queues_it(
        deployed: tuple[Path, Namespace], worker: Worker,
        prefect_api: str) -> None:
    _root, ns = deployed
    ids = {key: deployment(prefect_api, _flow_name(key), ns.name(key)).id
           for key in STRATEGIES}
    with client(prefect_api) as prefect:
        first = {key: prefect.create_flow_run_from_deployment(ids[key]) for key in STRATEGIES}
        for key, run in first.items():
            _wait(prefect, run.id, _state("RUNNING"), f"ran ({key})")
        second = {key: prefect.create_flow_run_from_deployment(ids[key]) for key in STRATEGIES}

        cancelled = _wait(prefect, second["sleeper_cancel"].id,
                          _state("CANCELLED", "COMPLETED", "FAILED", "CRASHED"), "ended")
        assert cancelled.state.type.value == "CANCELLED", cancelled.state
        first_cancel = prefect.read_flow_run(first["sleeper_cancel"].id)
        assert first_cancel.state.type.value in ("RUNNING", "COMPLETED")

        seen: set[str] = set()
        queued = _wait(prefect, second["sleeper_queue"].id,
                       _state("COMPLETED", "CANCELLED", "FAILED", "CRASHED"), "ended", seen)
        assert queued.state.type.value == "COMPLETED", queued.state
        assert "AwaitingConcurrencySlot" in seen, seen
        first_queue = _wait(prefect, first["sleeper_queue"].id, _state("COMPLETED"),
                            "completed")
        assert queued.start_time >= first_queue.end_time  # it waited for the slot
