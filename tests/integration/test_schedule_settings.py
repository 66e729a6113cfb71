"""A schedule's parameters, slug, anchor_date and day_or against a real Prefect server.

rpa1 gets two active schedules: a cron at 06:00 UTC with its own ``batch_size`` and a
slug, and an hourly interval anchored at half past. The server's own scheduler makes
the runs: those of the cron carry the schedule's ``batch_size``, those of the interval
the deployment's, at half past the hour. Editing the slugged cron updates that schedule
in place (same id) and keeps the pause made through Prefect's client (as the UI does);
unchanged redeploys send zero writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    FLOW_NAMES,
    Namespace,
    client,
    deployment,
    edit_config,
    isolate_repo,
    run_cli,
    set_flow_setting,
)

SCHEDULES = [
    {"cron": "0 6 * * *", "timezone": "UTC", "slug": "morning", "active": True,
     "day_or": False, "parameters": {"batch_size": 7}},
    {"interval": 3600, "anchor_date": "2026-01-01T00:30:00", "timezone": "UTC",
     "active": True},
]


def _ok(root: Path, api_url: str, *args: str) -> Any:
    result = run_cli(root, *args, "--json", api_url=api_url)
    assert result.code == 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    return result.json()


@pytest.fixture()
def rpa1(repo_copy: Path, prefect_api: str) -> tuple[Path, Namespace]:
    namespace = isolate_repo(repo_copy)
    edit_config(repo_copy, lambda data: data["defaults"].update(kinds=["python"]))
    set_flow_setting(repo_copy, "rpa1", "schedules", SCHEDULES)
    return repo_copy, namespace


def _scheduled_runs(api_url: str, deployment_id: Any, timeout: float = 90) -> list[Any]:
    """The runs the server's scheduler made for the deployment (it looks every few seconds
    at recently changed deployments)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

    wanted = FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]))
    deadline = time.monotonic() + timeout
    with client(api_url) as prefect:
        while time.monotonic() < deadline:
            runs = [r for r in prefect.read_flow_runs(flow_run_filter=wanted, limit=200)
                    if r.auto_scheduled]
            minutes = {r.expected_start_time.minute for r in runs}
            if {0, 30} <= minutes:
                return runs
            time.sleep(2)
    pytest.fail("the server scheduled no runs for both schedules within "
                f"{timeout:.0f} s")


def test_schedule_parameters_reach_the_scheduled_runs_and_a_slug_is_updated_in_place(
        rpa1: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa1
    name = ns.name("rpa1")
    _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa1")
    live = deployment(prefect_api, FLOW_NAMES["rpa1"], name)
    by_slug = {s.slug: s for s in live.schedules}
    assert set(by_slug) == {"morning", None}
    assert by_slug["morning"].parameters == {"batch_size": 7}
    assert by_slug["morning"].schedule.day_or is False
    assert by_slug[None].schedule.anchor_date.minute == 30

    runs = _scheduled_runs(prefect_api, live.id)
    for run in runs:
        at = run.expected_start_time
        if at.minute == 0:
            assert at.hour == 6 and run.parameters["batch_size"] == 7, run
        else:
            assert at.minute == 30 and run.parameters["batch_size"] == 100, run

    unchanged = _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa1")
    assert unchanged["requests"]["writes"] == 0

    with client(prefect_api) as prefect:  # paused in the UI
        prefect.update_deployment_schedule(live.id, by_slug["morning"].id, active=False)
    edited = [{**SCHEDULES[0], "cron": "0 7 * * *", "parameters": {"batch_size": 9}},
              SCHEDULES[1]]
    set_flow_setting(root, "rpa1", "schedules", edited)
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa1")
    assert [c["field"] for c in plan["plan"][0]["changes"]] == ["schedules"]
    _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa1")
    after = {s.slug: s for s in deployment(prefect_api, FLOW_NAMES["rpa1"], name).schedules}
    morning = after["morning"]
    assert morning.id == by_slug["morning"].id, "the slugged schedule was replaced"
    assert (morning.schedule.cron, morning.parameters, morning.active) == (
        "0 7 * * *", {"batch_size": 9}, False)
    assert after[None].id == by_slug[None].id  # the interval, unchanged, left alone
    again = _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa1")
    assert again["requests"]["writes"] == 0


def test_a_schedule_parameter_the_flow_does_not_take_is_caught_before_any_write(
        rpa1: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa1
    set_flow_setting(root, "rpa1", "schedules",
                     [{**SCHEDULES[0], "parameters": {"batch_sise": 7}}])
    result = run_cli(root, "deploy.python", "--env", "dev", "--flow", "rpa1", "--json",
                     api_url=prefect_api)
    assert result.code == 1, result.describe()
    text = result.stdout + result.stderr
    assert "schedules[0].parameters.batch_sise" in text and "config/deployment-config.yaml:" \
        in text, text
    with client(prefect_api) as prefect:
        from prefect.exceptions import ObjectNotFound

        with pytest.raises(ObjectNotFound):
            prefect.read_deployment_by_name(f"{FLOW_NAMES['rpa1']}/{ns.name('rpa1')}")
