"""Triggers → automations against a real Prefect server, through the real CLI.

A flow's ``triggers`` (prefect.yaml's shapes) become automations that run its deployment:
an event emitted through Prefect's events client makes the server create a flow run with
the ``{{ event }}``-templated parameters. The plan shows trigger creates, updates and
deletes; an unchanged redeploy sends zero writes; removing a trigger, or cleaning the
deployment, deletes our automation by id while an automation made by hand for the same
deployment survives; two projects on one server never touch each other's automations; a
trigger Prefect refuses stops the deploy before any write (exit 2, file and line).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

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

TRIGGER_FILE = "config/deployment-config.yaml"


def _ok(root: Path, api_url: str, *args: str) -> Any:
    result = run_cli(root, *args, "--json", api_url=api_url)
    assert result.code == 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    return result.json()


def _deploy(root: Path, api_url: str) -> Any:
    return _ok(root, api_url, "deploy.python", "--env", "dev", "--flow", "rpa3")


def _trigger_changes(plan: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(c["old"], c["new"]) for item in plan["plan"] for c in item["changes"]
            if c["field"] == "triggers"]


def trigger(event: str, resource: str, **extra: Any) -> dict[str, Any]:
    """An event trigger as prefect.yaml writes one, its run titled from the event."""
    return {"enabled": True, "match": {"prefect.resource.id": resource}, "expect": [event],
            "parameters": {"title": "{{ event.payload.title }}"}, **extra}


def automations_of(api_url: str, deployment_id: Any) -> list[Any]:
    """Every automation on the server that runs ``deployment_id`` (the server does not
    answer with an automation's owner resource)."""
    with client(api_url) as prefect:
        return [a for a in prefect.read_automations()
                if any(str(getattr(x, "deployment_id", "")) == str(deployment_id)
                       for x in a.actions)]


def copy_of(root: Path, **kwargs: Any) -> tuple[Path, Namespace]:
    namespace = isolate_repo(root, **kwargs)
    edit_config(root, lambda data: data["defaults"].update(kinds=["python"]))
    return root, namespace


@pytest.fixture()
def rpa3(repo_copy: Path, prefect_api: str) -> Iterator[tuple[Path, Namespace]]:
    """A repository copy deploying rpa3 only, as python; its deployments cleaned after."""
    root, namespace = copy_of(repo_copy)
    yield root, namespace
    run_cli(root, "deploy.clean", "--env", "dev", "--all", "--yes", api_url=prefect_api)


def hand_made(api_url: str, deployment_id: Any, name: str) -> UUID:
    """An automation a person made for the deployment (as the UI does: no tags of ours)."""
    from prefect.events.actions import RunDeployment
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    with client(api_url) as prefect:
        return prefect.create_automation(AutomationCore(
            name=name, trigger=EventTrigger(expect={"hand.made"}),
            actions=[RunDeployment(source="selected", deployment_id=deployment_id)],
            owner_resource=f"prefect.deployment.{deployment_id}"))


def emit(api_url: str, event: str, resource: str, payload: dict[str, Any]) -> None:
    """Send one event through Prefect's own events client, as a flow or a webhook would."""
    from prefect.events import Event
    from prefect.events.clients import PrefectEventsClient

    async def send() -> None:
        async with PrefectEventsClient(api_url) as events:
            await events.emit(Event(event=event, resource={"prefect.resource.id": resource},
                                    payload=payload, id=uuid4()))

    asyncio.run(send())


def wait_for_run(api_url: str, deployment_id: Any, timeout: float = 90) -> Any:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with client(api_url) as prefect:
            runs = prefect.read_flow_runs(deployment_filter=DeploymentFilter(
                id=DeploymentFilterId(any_=[deployment_id])))
        if runs:
            return runs[0]
        time.sleep(1)
    raise AssertionError(f"no flow run of deployment {deployment_id} within {timeout} s")


def test_an_event_runs_the_deployment_with_templated_parameters_and_redeploys_send_nothing(
        rpa3: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa3
    name = ns.name("rpa3")
    event, resource = f"shop.orders.arrived.{ns.uid}", f"shop.orders.{ns.uid}"
    set_flow_setting(root, "rpa3", "triggers", [trigger(event, resource)])
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")
    assert plan["plan"][0]["action"] == "create"
    first = _deploy(root, prefect_api)
    live = deployment(prefect_api, FLOW_NAMES["rpa3"], name)
    [automation] = automations_of(prefect_api, live.id)
    assert automation.name == f"{name}__automation_1"  # as prefect deploy names it
    assert {"managed-by:deploytasks", ns.tag, "env:dev"} <= set(automation.tags)
    assert automation.actions[0].parameters == {"title": "{{ event.payload.title }}"}

    again = _deploy(root, prefect_api)
    assert again["requests"]["writes"] == 0 and again["plan"]["unchanged"] == 1, \
        _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")["plan"]
    print(f"\nrequests with one trigger: first deploy {first['requests']}, "
          f"unchanged {again['requests']}")

    emit(prefect_api, event, resource, {"title": "Orders of the night"})
    run = wait_for_run(prefect_api, live.id)
    assert run.parameters["title"] == "Orders of the night"


def test_trigger_changes_are_planned_and_only_our_automations_are_deleted(
        rpa3: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa3
    name = ns.name("rpa3")
    set_flow_setting(root, "rpa3", "triggers", [trigger("a.one", "r.one"),
                                                 trigger("a.two", "r.two", name="second")])
    _deploy(root, prefect_api)
    live = deployment(prefect_api, FLOW_NAMES["rpa3"], name)
    theirs = hand_made(prefect_api, live.id, f"hand-made-{ns.uid}")
    assert len(automations_of(prefect_api, live.id)) == 3
    unchanged = _deploy(root, prefect_api)  # the hand-made one is not ours to compare
    assert unchanged["requests"]["writes"] == 0
    ids = {a.name: a.id for a in automations_of(prefect_api, live.id)}

    set_flow_setting(root, "rpa3", "triggers", [trigger("a.one", "r.one", within=60)])
    plan = _ok(root, prefect_api, "deploy.test", "--env", "dev", "--flow", "rpa3")
    [(old, new)] = _trigger_changes(plan)
    assert len(old) == 2 and len(new) == 1 and old[0] != new[0]  # one changed, one removed
    assert new[0].startswith(f"{name}__automation_1 (")
    _deploy(root, prefect_api)
    now = {a.name: a for a in automations_of(prefect_api, live.id)}
    assert set(now) == {f"{name}__automation_1", f"hand-made-{ns.uid}"}
    assert now[f"{name}__automation_1"].id == ids[f"{name}__automation_1"]  # updated in place
    assert now[f"{name}__automation_1"].trigger.within.total_seconds() == 60
    assert _deploy(root, prefect_api)["requests"]["writes"] == 0

    set_flow_setting(root, "rpa3", "triggers", [])
    _deploy(root, prefect_api)
    assert [a.id for a in automations_of(prefect_api, live.id)] == [theirs]

    set_flow_setting(root, "rpa3", "triggers", [trigger("a.one", "r.one")])
    _deploy(root, prefect_api)
    _ok(root, prefect_api, "deploy.clean", "--env", "dev", "--all", "--yes")
    # the deployment's automations of ours are gone; the hand-made one is not
    assert [a.id for a in automations_of(prefect_api, live.id)] == [theirs]
    with client(prefect_api) as prefect:
        prefect.delete_automation(theirs)


def test_two_projects_on_one_server_keep_to_their_own_automations(
        tmp_path: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from support.prefect_helpers import PROJECT_ROOT

    copies = []
    for label in ("a", "b"):
        root = tmp_path / label
        root.mkdir()
        for part in ("config", "flows"):
            shutil.copytree(PROJECT_ROOT / part, root / part,
                            ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
        copies.append(copy_of(root))
    (a, a_ns), (b, _b_ns) = copies
    try:
        for root in (a, b):
            set_flow_setting(root, "rpa3", "triggers", [trigger("x.y", "r.z")])
            _deploy(root, prefect_api)
        a_id = deployment(prefect_api, FLOW_NAMES["rpa3"], a_ns.name("rpa3")).id
        a_before = [x.id for x in automations_of(prefect_api, a_id)]
        assert len(a_before) == 1
        set_flow_setting(b, "rpa3", "triggers", [])
        assert _deploy(b, prefect_api)["requests"]["writes"] > 0
        assert _deploy(a, prefect_api)["requests"]["writes"] == 0
        _ok(b, prefect_api, "deploy.clean", "--env", "dev", "--all", "--yes")
        assert [x.id for x in automations_of(prefect_api, a_id)] == a_before
    finally:
        for root in (a, b):
            run_cli(root, "deploy.clean", "--env", "dev", "--all", "--yes", api_url=prefect_api)


def test_a_trigger_prefect_refuses_stops_the_deploy_before_any_write(
        rpa3: tuple[Path, Namespace], prefect_api: str) -> None:
    root, ns = rpa3
    set_flow_setting(root, "rpa3", "triggers", [{"expect": ["a.b"], "posture": "Sideways"}])
    result = run_cli(root, "deploy.python", "--env", "dev", "--flow", "rpa3",
                     api_url=prefect_api)
    assert result.code == 2, result.describe()
    output = result.stdout + result.stderr
    assert "Prefect refuses trigger 1: posture" in output, output
    assert TRIGGER_FILE in output, output
    with client(prefect_api) as prefect:
        assert not [d for d in prefect.read_deployments() if d.name == ns.name("rpa3")]
