"""A deployment's triggers as automations (``deploy/triggers.py``): names as ``prefect
deploy`` gives them, the compared shape, the automation Prefect's models build, and the
writes that keep ours in step — by id, never touching one that is not ours."""

from __future__ import annotations

import uuid
from typing import Any

from deploytasks.deploy.triggers import (
    HASH_PREFIX,
    RemoteAutomation,
    automation_of,
    compared,
    document_hash,
    named,
    refused,
    remote_of,
    sync_of,
)

EVENT = {"match": {"prefect.resource.id": "shop.orders"}, "expect": ["shop.orders.arrived"],
         "parameters": {"title": "{{ event.payload.title }}"}}


def test_unnamed_triggers_are_named_as_prefect_deploy_names_them() -> None:
    documents = named("orders-python-dev", [EVENT, {**EVENT, "name": "mine"}, EVENT])
    assert [d["name"] for d in documents] == ["orders-python-dev__automation_1", "mine",
                                              "orders-python-dev__automation_3"]


def test_the_hash_ignores_spelling_and_sees_every_change() -> None:
    [one] = named("d", [EVENT])
    assert document_hash(one) == document_hash(dict(reversed(list(one.items()))))
    assert document_hash(one) != document_hash({**one, "within": 60})
    assert compared([one]) == [f"d__automation_1 ({document_hash(one)})"]


def test_the_automation_runs_the_deployment_with_the_template_untouched_and_our_tags() -> None:
    [one] = named("d", [EVENT])
    deployment_id = str(uuid.uuid4())
    made = automation_of(one, deployment_id, ["managed-by:deploytasks", "project:p"])
    assert made.name == "d__automation_1"
    assert made.owner_resource == f"prefect.deployment.{deployment_id}"
    assert made.tags == ["managed-by:deploytasks", "project:p",
                         f"{HASH_PREFIX}{document_hash(one)}"]
    [action] = made.actions
    assert str(action.deployment_id) == deployment_id
    assert action.parameters == {"title": "{{ event.payload.title }}"}
    from prefect.events.schemas.automations import Automation

    answer = Automation(**{**made.model_dump(), "owner_resource": None}, id=uuid.uuid4())
    back = remote_of(answer)  # the server answers without the owner resource
    assert back is not None and back.deployment_id == deployment_id
    assert back.hash == document_hash(one)


def test_refused_names_the_trigger_and_its_part() -> None:
    assert refused(named("d", [EVENT])) is None
    assert (refused([EVENT, {"expect": ["a"], "posture": "Sideways"}]) or "").startswith(
        "Prefect refuses trigger 2: posture")
    assert "two triggers have the name 'x'" in (
        refused([{**EVENT, "name": "x"}, {**EVENT, "name": "x"}]) or "")


def remote(name: str, document: dict[str, Any] | None, automation_id: str) -> RemoteAutomation:
    return RemoteAutomation(automation_id, name, "dep",
                            document_hash(document) if document is not None else None)


def test_sync_creates_replaces_and_deletes_ours_by_id() -> None:
    first, second, third = named("d", [EVENT, {**EVENT, "expect": ["b"]}, EVENT])
    current = [remote(first["name"], first, "1"), remote(second["name"], EVENT, "2"),
               remote("d__automation_9", EVENT, "3"), remote(first["name"], first, "4")]
    sync = sync_of([first, second, third], current)
    assert sync.create == (third,)
    assert sync.update == (("2", second),)
    assert sorted(sync.delete) == ["3", "4"]  # gone from the configuration; a duplicate
    assert sync_of([first], [remote(first["name"], first, "1")]) == type(sync)((), (), ())
