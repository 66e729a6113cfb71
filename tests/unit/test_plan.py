"""make_plan: specs against server snapshots → create / update / unchanged / orphaned / conflict."""

from __future__ import annotations

import dataclasses

import pytest

from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.plan import Change, RemoteDeployment, diff_fields, make_plan
from deploytasks.deploy.specs import DeploymentSpec, Schedule

OWNER = "managed-by:deploytasks"
PROJECT = "project:team-a"
OURS = Ownership(OWNER, "team-a")


def spec(name: str = "rpa1-python-dev", flow_name: str = "RPA1ProcessingFlow",
         **changes: object) -> DeploymentSpec:
    kind = "docker" if "-docker-" in name else "python"
    base = DeploymentSpec(
        name=name, flow_folder="rpa1", flow_name=flow_name, kind=kind,  # type: ignore[arg-type]
        environment="development", entrypoint="flows/rpa1/workflow.py:rpa1_processing_flow",
        work_pool="python-pool", work_queue="default", description="Ingest invoices.",
        version="abc123", tags=(OWNER, PROJECT, "env:dev", f"type:{kind}", "rpa"),
        parameters={"batch_size": 100, "cleanup": True}, parameter_schema={},
        job_variables={}, schedules=(Schedule("interval", 3600.0, "UTC", False),),
        concurrency_limit=None, enforce_parameter_schema=True,
        pull_steps=({"prefect.deployments.steps.set_working_directory": {"directory": "/r"}},),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def remote(of: DeploymentSpec | None = None, *, name: str = "rpa1-python-dev",
           flow_name: str = "RPA1ProcessingFlow", tags: tuple[str, ...] | None = None,
           **fields: object) -> RemoteDeployment:
    """What the server would hold after deploying ``of`` (then changed by ``fields``)."""
    if of is not None:
        name, flow_name = of.name, of.flow_name
        tags = of.tags if tags is None else tags
    return RemoteDeployment(id=f"id-{name}", name=name, flow_name=flow_name, tags=tags or (),
                            fields={**(of.comparable() if of else {}), **fields})


def plan_of(specs: list[DeploymentSpec], remotes: list[RemoteDeployment],
            known_names: set[str] | None = frozenset()):  # type: ignore[assignment]
    return make_plan(specs, remotes, ownership=OURS, env_tag="env:dev",
                     known_names=None if known_names is None else set(known_names))


def actions(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {item.name: item.action for item in plan.items}


def test_missing_deployment_is_created() -> None:
    plan = plan_of([spec()], [])
    assert actions(plan) == {"rpa1-python-dev": "create"}
    assert plan.writes == plan.items


def test_same_deployment_is_unchanged() -> None:
    wanted = spec()
    (item,) = plan_of([wanted], [remote(wanted)]).items
    assert (item.action, item.changes) == ("unchanged", [])


def test_different_fields_are_an_update_listing_old_and_new() -> None:
    wanted = spec()
    server = remote(wanted, description="Old text.", parameters={"batch_size": 50})
    (item,) = plan_of([wanted], [server]).items
    assert item.action == "update"
    assert item.changes == [
        Change("description", "Old text.", "Ingest invoices."),
        Change("parameters", {"batch_size": 50}, {"batch_size": 100, "cleanup": True}),
    ]
    assert item.to_document()["changes"][0] == {"field": "description", "old": "Old text.",
                                                "new": "Ingest invoices."}


def test_tag_order_on_the_server_is_not_a_change() -> None:
    wanted = spec()
    server = remote(wanted, tags=sorted(wanted.tags, reverse=True))
    assert actions(plan_of([wanted], [server])) == {"rpa1-python-dev": "unchanged"}


def test_schedule_change_is_an_update() -> None:
    wanted = spec()
    server = remote(wanted, schedules=[("interval", "60.0", "UTC")])
    (item,) = plan_of([wanted], [server]).items
    assert [c.field for c in item.changes] == ["schedules"]


def test_managed_deployment_no_longer_wanted_is_orphaned() -> None:
    stale = remote(spec("old-docker-dev", flow_name="OldFlow"))
    (item,) = plan_of([], [stale]).items
    assert (item.action, item.name, item.kind, item.remote) == ("orphaned", "old-docker-dev",
                                                                "docker", stale)
    assert plan_of([], [stale]).writes == []


def test_orphans_are_not_looked_for_when_told_not_to() -> None:
    assert plan_of([], [remote(spec("old-python-dev"))], known_names=None).items == []


def test_a_deployment_of_a_flow_still_in_the_repository_is_not_orphaned() -> None:
    # e.g. the flow is broken for a moment and was skipped: its deployments must stay
    assert plan_of([], [remote(spec("old-python-dev"))], known_names={"old-python-dev"}).items \
        == []


def test_managed_deployment_of_another_environment_is_not_orphaned() -> None:
    other = remote(spec("rpa1-python-prod", tags=(OWNER, PROJECT, "env:prod", "type:python")))
    assert plan_of([], [other]).items == []


def test_hand_made_deployment_is_never_orphaned() -> None:
    by_hand = remote(name="my-experiment", flow_name="RPA1ProcessingFlow",
                     tags=("env:dev", "type:python"))
    assert plan_of([spec()], [by_hand]).items[1:] == []
    assert actions(plan_of([], [by_hand])) == {}


def test_same_name_not_managed_is_a_conflict() -> None:
    wanted = spec()
    by_hand = remote(wanted, tags=("rpa",))
    (item,) = plan_of([wanted], [by_hand]).items
    assert (item.action, item.remote) == ("conflict", by_hand)
    assert plan_of([wanted], [by_hand]).writes == []


def test_same_name_under_another_flow_is_a_different_deployment() -> None:
    wanted = spec()
    elsewhere = remote(spec(flow_name="OtherFlow"))
    plan = plan_of([wanted], [elsewhere])
    assert [(i.action, i.flow_name) for i in plan.items] == [
        ("create", "RPA1ProcessingFlow"), ("orphaned", "OtherFlow")]


def test_counts_cover_every_action() -> None:
    keep, change = spec("a-python-dev"), spec("b-python-dev")
    plan = plan_of(
        [keep, change, spec("c-python-dev"), spec("d-python-dev")],
        [remote(keep), remote(change, version="old"), remote(spec("d-python-dev"), tags=()),
         remote(spec("e-python-dev"))])
    assert plan.counts() == {"create": 1, "update": 1, "unchanged": 1, "orphaned": 1,
                             "conflict": 1}


# --- diff_fields ---------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new"), [
    (1, 1.0), ((1, 2), [1, 2]), ({"a": (1, 2.0)}, {"a": [1, 2]}),
    ({"x": 1, "y": 2}, {"y": 2, "x": 1}), ([("cron", "0 6 * * *", "UTC")],
                                          (["cron", "0 6 * * *", "UTC"],)),
])
def test_equal_values_in_other_spellings_are_not_changes(old: object, new: object) -> None:
    assert diff_fields({"f": old}, {"f": new}) == []


@pytest.mark.parametrize(("old", "new"), [(1, 1.5), ("1", 1), ([1, 2], [2, 1]), (None, {}),
                                          ({"a": 1}, {"a": 1, "b": None})])
def test_different_values_are_changes(old: object, new: object) -> None:
    assert diff_fields({"f": old}, {"f": new}) == [Change("f", old, new)]


def test_field_missing_on_the_server_is_a_change_unless_none() -> None:
    assert diff_fields({}, {"version": "v1", "description": None}) == \
        [Change("version", None, "v1")]


@pytest.mark.parametrize(("old", "new"), [(1, True), (0, False), ({"p": 1.0}, {"p": True})])
def test_booleans_are_not_numbers(old: object, new: object) -> None:
    assert diff_fields({"f": old}, {"f": new}) == [Change("f", old, new)]
