"""Concurrency options and ``paused`` against a real Prefect server, through the real CLI.

A deployment's ``concurrency_limit`` in prefect.yaml's mapping form reaches the server as
its limit and ``concurrency_options``; ``paused: true`` pauses the deployment; both are
compared old → new in the plan and an unchanged redeploy sends zero writes. A pause made
in the UI (through Prefect's client, as the UI does) survives a redeploy that changes
something else, and the configuration changing ``paused`` still wins.
"""

from __future__ import annotations

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


def _ok(root: Path, api_url: str, *args: str) -> Any:
    result = run_cli(root, *args, "--json", api_url=api_url)
    assert result.code == 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    return result.json()


def _changes(plan: dict[str, Any]) -> dict[str, list[tuple[str, Any, Any]]]:
    return {item["name"]: [(c["field"], c["old"], c["new"]) for c in item["changes"]]
            for item in plan["plan"] if item["action"] != "unchanged"}


@pytest.fixture()
def rpa3(repo_copy: Path, prefect_api: str) -> tuple[Path, Namespace]:
    """A repository copy deploying rpa3 only, as python."""
    namespace = isolate_repo(repo_copy)

    def python_only(data: dict[str, Any]) -> None:
        data["defaults"]["kinds"] = ["python"]

    edit_config(repo_copy, python_only)
    return repo_copy, namespace


def test_concurrency_options_reach_the_server_diff_and_stay_idempotent(
        rpa3: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa3
    name = ns.name("rpa3")
    set_flow_setting(root, "rpa3", "concurrency_limit",
                     {"limit": 2, "collision_strategy": "CANCEL_NEW",
                      "grace_period_seconds": 120})
    first = _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    live = deployment(prefect_api, FLOW_NAMES["rpa3"], name)
    assert live.global_concurrency_limit is not None and live.global_concurrency_limit.limit == 2
    assert live.concurrency_options is not None
    assert live.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert live.concurrency_options.grace_period_seconds == 120
    assert first["requests"]["writes"] > 0

    again = _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    assert again["requests"]["writes"] == 0 and again["plan"]["unchanged"] == 1

    set_flow_setting(root, "rpa3", "concurrency_limit", 3)  # the integer form: no options
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")
    assert _changes(plan) == {name: [
        ("concurrency_limit", 2, 3),
        ("concurrency_options", {"collision_strategy": "CANCEL_NEW",
                                 "grace_period_seconds": 120}, None)]}
    _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    live = deployment(prefect_api, FLOW_NAMES["rpa3"], name)
    assert live.global_concurrency_limit.limit == 3 and live.concurrency_options is None
    last = _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    assert last["requests"]["writes"] == 0


def test_a_bad_collision_strategy_is_caught_before_any_write(
        rpa3: tuple[Path, Namespace], prefect_api: str) -> None:
    root, _ns = rpa3
    set_flow_setting(root, "rpa3", "concurrency_limit",
                     {"limit": 1, "collision_strategy": "DROP"})
    result = run_cli(root, "deploy.python", "--env", "dev", "--flow", "rpa3", "--json",
                     api_url=prefect_api)
    assert result.code == 2, result.describe()
    assert "config/deployment-config.yaml:" in result.stderr + result.stdout
    assert "'ENQUEUE' or 'CANCEL_NEW'" in result.stderr + result.stdout


def test_paused_is_applied_and_a_pause_made_in_the_ui_survives_a_redeploy(
        rpa3: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa3
    name = ns.name("rpa3")
    set_flow_setting(root, "rpa3", "paused", True)
    _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    live = deployment(prefect_api, FLOW_NAMES["rpa3"], name)
    assert live.paused is True
    unchanged = _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    assert unchanged["requests"]["writes"] == 0

    set_flow_setting(root, "rpa3", "paused", False)  # the configuration resumes it
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")
    assert _changes(plan) == {name: [("paused", True, False)]}
    _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    assert deployment(prefect_api, FLOW_NAMES["rpa3"], name).paused is False

    with client(prefect_api) as prefect:  # someone pauses it in the UI
        prefect.pause_deployment(live.id)
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")
    assert _changes(plan) == {} and plan["plan"][0]["drift"] == []
    set_flow_setting(root, "rpa3", "description", "Reports, now described.")
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")
    assert [field for field, _old, _new in _changes(plan)[name]] == ["description"]
    _ok(root, prefect_api, "deploy.python", "--env", "dev", "--flow", "rpa3")
    after = deployment(prefect_api, FLOW_NAMES["rpa3"], name)
    assert after.description == "Reports, now described." and after.paused is True
    check = _ok(root, prefect_api, "deploy.check", "--env", "dev", "--flow", "rpa3")
    assert any("the deployment is paused" in w for d in check["deployments"]
               for w in d["warnings"]), check
