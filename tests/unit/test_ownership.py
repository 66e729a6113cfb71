"""Whose a deployment is, drift records, undoing a takeover, and clean's guards (pure parts)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from deploytasks.config import ConfigurationManager
from deploytasks.deploy.clean import CleanRequest, check_request, guard_orphans, select
from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.plan import RemoteDeployment, make_plan
from deploytasks.deploy.records import SourceState, field_hash, parse_record, record_of
from deploytasks.deploy.specs import DeploymentSpec, Schedule
from deploytasks.deploy.takeover import judge
from deploytasks.errors import ConfigError, UsageError

TOOL = "managed-by:deploytasks"
A = Ownership(TOOL, "team-a")


def spec(name: str = "rpa1-python-dev", **changes: object) -> DeploymentSpec:
    base = DeploymentSpec(
        name=name, flow_folder="rpa1", flow_name="RPA1ProcessingFlow", kind="python",
        environment="development", entrypoint="flows/rpa1/workflow.py:rpa1_processing_flow",
        work_pool="python-pool", work_queue="default", description="Ingest invoices.",
        version="abc123", tags=(*A.deployment_tags("dev", "python"), "rpa"),
        parameters={"batch_size": 100}, parameter_schema={}, job_variables={},
        schedules=(Schedule("cron", "0 6 * * *", "UTC", True),), concurrency_limit=None,
        enforce_parameter_schema=True, pull_steps=())
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def remote(of: DeploymentSpec, tags: tuple[str, ...] | None = None,
           **fields: object) -> RemoteDeployment:
    return RemoteDeployment(f"id-{of.name}", of.name, of.flow_name,
                            of.tags if tags is None else tags, {**of.comparable(), **fields})


@pytest.mark.parametrize(("tags", "owner", "words"), [
    ((TOOL, "project:team-a", "env:dev"), "ours", "project 'team-a'"),
    ((TOOL, "project:team-b"), "project", "project 'team-b'"),
    ((TOOL, "project:team-a", "project:team-b"), "project", "project 'team-b'"),
    ((TOOL, "env:dev"), "legacy", "legacy"),
    (("project:team-a", "env:dev"), "hand-made", "hand-made"),
    ((), "hand-made", "hand-made"),
])
def test_owner_is_read_from_both_tags(tags: tuple[str, ...], owner: str, words: str) -> None:
    assert A.owner(tags) == owner
    assert words in A.describe(tags)


def test_another_projects_deployment_is_a_conflict_and_never_an_orphan() -> None:
    wanted = spec()
    theirs = remote(wanted, tags=(TOOL, "project:team-b", "env:dev", "type:python"))
    stale = remote(spec("gone-python-dev"), tags=(TOOL, "project:team-b", "env:dev"))
    plan = make_plan([wanted], [theirs, stale], ownership=A, env_tag="env:dev",
                     known_names=set())
    (item,) = plan.items
    assert (item.action, item.owner, item.legacy) == ("conflict", "project 'team-b'", False)
    assert item.to_document()["owner"] == "project 'team-b'"


def test_legacy_deployment_is_a_conflict_that_adopt_can_claim() -> None:
    wanted = spec()
    (item,) = make_plan([wanted], [remote(wanted, tags=(TOOL, "env:dev"))], ownership=A,
                        env_tag="env:dev").items
    assert item.action == "conflict" and item.legacy


# --- drift ---------------------------------------------------------------------------------

def _record(applied: DeploymentSpec) -> dict[str, object]:
    record = record_of("id-" + applied.name, applied.name, applied.comparable(), SourceState())
    return {record.deployment_id: record}


def test_a_server_edit_since_our_apply_is_drift_a_config_change_is_not() -> None:
    applied = spec()
    edited = remote(applied, parameters={"batch_size": 5})
    plan = make_plan([applied], [edited], ownership=A, env_tag="env:dev",
                     records=_record(applied))  # type: ignore[arg-type]
    assert (plan.items[0].action, plan.items[0].drift) == ("update", ["parameters"])
    changed = spec(parameters={"batch_size": 200})
    plan = make_plan([changed], [remote(applied)], ownership=A, env_tag="env:dev",
                     records=_record(applied))  # type: ignore[arg-type]
    assert (plan.items[0].action, plan.items[0].drift) == ("update", [])
    assert plan.items[0].to_document()["drift"] == []


def test_no_record_means_no_drift_and_an_edit_equal_to_the_config_is_not_drift() -> None:
    applied = spec()
    edited = remote(applied, parameters={"batch_size": 5})
    assert make_plan([applied], [edited], ownership=A, env_tag="env:dev").items[0].drift == []
    now_wanted = spec(parameters={"batch_size": 5})
    item = make_plan([now_wanted], [edited], ownership=A, env_tag="env:dev",
                     records=_record(applied)).items[0]  # type: ignore[arg-type]
    assert (item.action, item.drift) == ("unchanged", [])


def test_paused_schedule_is_not_drift_and_spelling_does_not_count() -> None:
    applied = spec()
    paused = dataclasses.replace(applied, schedules=(Schedule("cron", "0 6 * * *", "UTC",
                                                              False),))
    assert paused.comparable() == applied.comparable()
    assert field_hash({"a": 1, "b": [1.0, True]}) == field_hash({"b": (1, True), "a": 1.0})
    assert field_hash(True) != field_hash(1)


def test_record_round_trips_and_stays_small() -> None:
    big = spec(parameter_schema={"properties": {f"p{i}": {"type": "string"} for i in range(300)}})
    record = record_of("0b9c1c8e-0000-4000-8000-000000000001", big.name, big.comparable(),
                       SourceState("f" * 40, True))
    assert record.variable_name == "deploytasks-applied-0b9c1c8e-0000-4000-8000-000000000001"
    assert len(json.dumps(record.value())) < 1000
    back = parse_record(record.variable_name, record.value())
    assert back == record
    assert parse_record("someone-elses", record.value()) is None
    assert parse_record(record.variable_name, {"format": 99}) is None


# --- undoing a create that hit an existing row ----------------------------------------------

def test_an_upsert_onto_a_handmade_deployment_restores_its_fields() -> None:
    payload = {"updates": {
        "tags": {"from": ["team-x"], "to": list(spec().tags)},
        "description": {"from": "made by hand", "to": "Ingest invoices."},
        "infra_overrides": {"from": {"a": 1}, "to": {}},
        "work_queue_id": {"from": "q-1", "to": "q-2"},
        "labels": {"from": {}, "to": {"x": "y"}},
    }}
    verdict = judge(payload, spec(), A)
    assert (verdict.was_ours, verdict.previous_owner) == (False, "hand-made")
    assert verdict.values == {"tags": ["team-x"], "description": "made by hand",
                              "job_variables": {"a": 1}}
    assert verdict.queue_id == "q-1"
    assert any("schedules" in lost for lost in verdict.lost)


def test_an_upsert_onto_our_own_deployment_is_not_a_conflict() -> None:
    assert judge({"updates": {"version": {"from": "old", "to": "new"}}}, spec(), A).was_ours
    theirs = {"updates": {"tags": {"from": [TOOL, "project:team-b"], "to": []}}}
    assert judge(theirs, spec(), A).previous_owner == "project 'team-b'"


# --- clean --------------------------------------------------------------------------------

def test_a_pattern_equal_to_a_name_matches_only_that_name() -> None:
    bracket, plain = spec("rpa[1]-python-dev"), spec("rpa1-python-dev")
    found = [remote(bracket), remote(plain)]
    assert [d.name for d in select(found, CleanRequest(pattern="rpa[1]-python-dev"), A)] == \
        ["rpa[1]-python-dev"]
    assert [d.name for d in select(found, CleanRequest(pattern="rpa[1]-*"), A)] == \
        ["rpa1-python-dev"]
    assert select(found, CleanRequest(pattern="*", env_short="prod"), A) == []


@pytest.mark.parametrize(("pattern", "orphans", "everything", "words"), [
    ("", False, False, "empty or blank"), (" \t", False, False, "empty or blank"),
    (None, False, False, "say what to delete"), ("x", False, True, "does not combine"),
    (None, True, True, "does not combine"),
])
def test_clean_requests_that_do_not_say_what_to_delete(pattern: str | None, orphans: bool,
                                                       everything: bool, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        check_request(pattern, orphans=orphans, everything=everything)


def test_orphan_guard_share_and_no_flows(repo_copy: Path) -> None:
    config = ConfigurationManager().load()
    orphans = CleanRequest(env_short="dev", orphans=set())
    guard_orphans(config, orphans, 3, 6, flows_found=3, force=False)  # half: allowed
    with pytest.raises(UsageError, match="4 of the 6"):
        guard_orphans(config, orphans, 4, 6, flows_found=3, force=False)
    with pytest.raises(UsageError, match="no flows were found"):
        guard_orphans(config, orphans, 1, 6, flows_found=0, force=False)
    guard_orphans(config, orphans, 6, 6, flows_found=0, force=True)


# --- configuration ------------------------------------------------------------------------

def test_reserved_tag_in_a_template_names_the_template(repo_copy: Path) -> None:
    template = repo_copy / "config/templates/python_deployment.yaml"
    template.write_text(template.read_text().replace("tags: []", "tags: [type:docker]"))
    with pytest.raises(ConfigError) as raised:
        ConfigurationManager().load()
    assert str(raised.value).startswith("config/templates/python_deployment.yaml:")
    assert "'type:docker' is reserved" in str(raised.value)


@pytest.mark.parametrize(("name", "valid"), [
    ("a", True), ("a" * 63, True), ("a" * 64, False), ("team-a.flows_2", True),
    ("Team", False), ("-a", False), ("a b", False), ("a/b", False), ("ä", False),
])
def test_project_names(repo_copy: Path, name: str, valid: bool) -> None:
    main = repo_copy / "config/deployment-config.yaml"
    main.write_text(main.read_text().replace("project: rpa-platform", f"project: '{name}'"))
    if valid:
        assert ConfigurationManager().load().settings.project == name
        return
    with pytest.raises(ConfigError, match="not a valid project name"):
        ConfigurationManager().load()
