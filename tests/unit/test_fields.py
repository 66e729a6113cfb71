"""The table of deployment fields: it agrees with the spec and with Prefect's models, it keeps
the document and the plan's order, and one new row reaches every place a field touches."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from prefect.client.schemas.actions import DeploymentCreate, DeploymentUpdate
from prefect.client.schemas.responses import DeploymentResponse

from deploytasks.deploy import fields
from deploytasks.deploy.fields import FIELDS, DeploymentField
from deploytasks.deploy.ownership import Ownership
from deploytasks.deploy.plan import make_plan
from deploytasks.deploy.prefect_api import snapshot
from deploytasks.deploy.records import SourceState, record_of
from deploytasks.deploy.specs import DeploymentSpec, Schedule
from deploytasks.deployment_settings import DeploymentSettings

OURS = Ownership("managed-by:deploytasks", "team-a")
NOT_FIELDS = {"name", "flow_folder", "flow_name", "kind", "environment", "image", "notes",
              "parts", "secrets"}  # the spec's identity, its image (a job variable), its
# notes, and the values its env references (kept in Secret blocks, never a field)


def spec(**changes: Any) -> DeploymentSpec:
    base = DeploymentSpec(
        name="rpa1-python-dev", flow_folder="rpa1", flow_name="RPA1ProcessingFlow",
        kind="python", environment="development",
        entrypoint="flows/rpa1/workflow.py:rpa1_processing_flow", work_pool="python-pool",
        work_queue="default", description="Ingest invoices.", version="abc123",
        tags=(*OURS.deployment_tags("dev", "python"), "rpa"), parameters={"batch_size": 100},
        parameter_schema={"type": "object", "properties": {}}, job_variables={"env": {"A": "1"}},
        schedules=(Schedule("cron", "0 6 * * *", "UTC", True),
                   Schedule("interval", 3600.0, "Europe/Berlin", False)),
        concurrency_limit=2, enforce_parameter_schema=True,
        pull_steps=({"prefect.deployments.steps.set_working_directory": {"directory": "/r"}},))
    return dataclasses.replace(base, **changes)


def response_of(wanted: DeploymentSpec, **changes: Any) -> DeploymentResponse:
    """What the server answers for a deployment made from ``wanted`` (then changed)."""
    def schedule(s: Schedule) -> dict[str, Any]:
        value = {"interval": s.value} if s.kind == "interval" else {s.kind: s.value}
        return {"id": str(uuid.uuid4()), "deployment_id": str(uuid.uuid4()),
                "schedule": {**value, "timezone": s.timezone}, "active": s.active}

    limit = None if wanted.concurrency_limit is None else {
        "id": str(uuid.uuid4()), "name": "limit", "limit": wanted.concurrency_limit,
        "active": True, "active_slots": 0, "slot_decay_per_second": 0}
    return DeploymentResponse.model_validate({
        "id": str(uuid.uuid4()), "name": wanted.name, "flow_id": str(uuid.uuid4()),
        "version": wanted.version, "description": wanted.description,
        "tags": list(reversed(wanted.tags)), "parameters": wanted.parameters,
        "parameter_openapi_schema": wanted.parameter_schema,
        "job_variables": wanted.job_variables, "work_pool_name": wanted.work_pool,
        "work_queue_name": wanted.work_queue, "entrypoint": wanted.entrypoint,
        "pull_steps": list(wanted.pull_steps),
        "enforce_parameter_schema": wanted.enforce_parameter_schema,
        "global_concurrency_limit": limit,
        "schedules": [schedule(s) for s in wanted.schedules], **changes})


# --- the table agrees with the spec and with Prefect --------------------------------------

def test_every_spec_attribute_but_identity_has_one_row_and_every_row_an_attribute() -> None:
    attributes = [f.name for f in dataclasses.fields(DeploymentSpec)]
    rows = [row.attribute for row in FIELDS]
    assert sorted(rows) == sorted(set(attributes) - NOT_FIELDS)
    assert len({row.name for row in FIELDS}) == len(FIELDS)


def test_every_payload_row_is_something_prefect_creates_updates_and_answers() -> None:
    """Rows the payloads carry go to Prefect by their name; a synced row (schedules,
    triggers) is sent and read by its own module instead."""
    create, update = DeploymentCreate.model_fields, DeploymentUpdate.model_fields
    for row in FIELDS:
        if row.synced:
            continue
        assert row.name in create and row.name in update, row.name
        if row.read is None:
            assert row.name in DeploymentResponse.model_fields, row.name
    assert [row for row in FIELDS if row.synced] == [fields.SCHEDULES, fields.TRIGGERS]


def test_payloads_are_accepted_by_prefects_own_models() -> None:
    wanted = spec()
    made = DeploymentCreate(flow_id=uuid.uuid4(), name=wanted.name, **fields.payload(wanted))
    assert made.tags == list(wanted.tags) and made.concurrency_limit == 2
    changed = DeploymentUpdate(**fields.payload(wanted, {"parameters", "schedules"}))
    assert changed.model_fields_set == {"parameters"}  # schedules are synced one by one


def test_configured_rows_pass_their_setting_through() -> None:
    settings = DeploymentSettings(concurrency_limit=3, enforce_parameter_schema=False)
    assert fields.configured(settings) == {"concurrency_limit": 3, "concurrency_options": None,
                                           "paused": False, "enforce_parameter_schema": False}
    settings = DeploymentSettings.model_validate({"paused": True, "concurrency_limit": {
        "limit": 1, "collision_strategy": "CANCEL_NEW", "grace_period_seconds": 120}})
    assert fields.configured(settings) == {
        "concurrency_limit": 1, "paused": True, "enforce_parameter_schema": True,
        "concurrency_options": {"collision_strategy": "CANCEL_NEW", "grace_period_seconds": 120}}


def test_concurrency_options_are_sent_and_read_back_as_prefect_holds_them() -> None:
    options = {"collision_strategy": "CANCEL_NEW", "grace_period_seconds": 90}
    wanted = spec(concurrency_options=options, paused=True)
    made = DeploymentCreate(flow_id=uuid.uuid4(), name=wanted.name, **fields.payload(wanted))
    assert made.concurrency_options is not None and made.paused is True
    assert made.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    remote = snapshot(response_of(wanted, concurrency_options=options, paused=True),
                      wanted.flow_name)
    assert remote.fields["concurrency_options"] == options and remote.fields["paused"] is True
    plan = make_plan([wanted], [remote], ownership=OURS, env_tag="env:dev")
    assert [item.action for item in plan.items] == ["unchanged"], plan.items[0].changes
    cleared = DeploymentUpdate(**fields.payload(spec(), {"concurrency_options"}))
    assert cleared.model_fields_set == {"concurrency_options"}  # sent as null: cleared


# --- paused: the server's state stays unless the configuration changed it ------------------

def _plan_paused(server: bool, wanted: bool, applied: bool | None) -> list[tuple[str, Any]]:
    """The plan's changes of a deployment paused (or not) on the server; ``applied`` is
    what our record says we last applied (None: no record)."""
    target = spec(paused=wanted)
    remote = snapshot(response_of(target, paused=server), target.flow_name)
    records = {} if applied is None else {remote.id: record_of(
        remote.id, target.name, spec(paused=applied).comparable(), SourceState())}
    item = make_plan([target], [remote], ownership=OURS, env_tag="env:dev",
                     records=records).items[0]
    assert item.drift == []  # a pause is never drift
    return [(c.field, c.new) for c in item.changes]


@pytest.mark.parametrize(("server", "wanted", "applied", "changes"), [
    (True, False, False, []),  # paused in the UI, configuration unchanged: stays paused
    (True, False, None, []),  # no record yet: unpaused was what we applied
    (False, True, False, [("paused", True)]),  # the configuration now pauses it
    (True, False, True, [("paused", False)]),  # the configuration resumes it
    (False, True, None, [("paused", True)]),  # configured paused, nothing recorded
    (False, False, True, []),  # resumed in the UI after we paused it: stays resumed
])
def test_paused_changes_only_when_the_configuration_changes_it(
        server: bool, wanted: bool, applied: bool | None,
        changes: list[tuple[str, Any]]) -> None:
    assert _plan_paused(server, wanted, applied) == changes


# --- the shapes that must not move ------------------------------------------------------

def test_the_document_keeps_its_layout_and_the_plan_its_order() -> None:
    document = spec().to_document()
    assert list(document) == ["name", "flow", "flow_name", "type", "environment", "entrypoint",
                              "work_pool", "description", "version", "tags", "parameters",
                              "parameter_openapi_schema", "job_variables", "schedules",
                              "concurrency_limit", "concurrency_options", "paused",
                              "enforce_parameter_schema", "pull", "image", "triggers"]
    assert document["work_pool"] == {"name": "python-pool", "work_queue_name": "default"}
    assert document["schedules"][1] == {"interval": 3600.0, "timezone": "Europe/Berlin",
                                        "active": False}
    assert list(spec().comparable()) == [
        "description", "version", "tags", "parameters", "parameter_openapi_schema",
        "job_variables", "work_pool_name", "work_queue_name", "entrypoint", "pull_steps",
        "enforce_parameter_schema", "concurrency_limit", "concurrency_options", "paused",
        "schedules", "triggers"]


def test_a_deployment_read_back_compares_equal_to_its_spec() -> None:
    wanted = spec()
    remote = snapshot(response_of(wanted), wanted.flow_name)
    assert set(remote.fields) == set(wanted.comparable())
    plan = make_plan([wanted], [remote], ownership=OURS, env_tag="env:dev")
    assert [item.action for item in plan.items] == ["unchanged"], plan.items[0].changes
    assert [s.active for s in remote.schedules] == [True, False]


# --- one new row reaches every place ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PathSpec(DeploymentSpec):
    path: str = "/srv/flows"  # the typed attribute a new field takes


PATH = DeploymentField("path", "path", restore=True)


@pytest.fixture
def with_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fields, "FIELDS", (*FIELDS, PATH))


def test_a_new_row_is_compared_sent_read_back_written_recorded_and_restored(
        with_path: None) -> None:
    wanted = PathSpec(**{f.name: getattr(spec(), f.name)
                         for f in dataclasses.fields(DeploymentSpec)})
    assert list(wanted.comparable())[-1] == "path"
    assert fields.payload(wanted)["path"] == "/srv/flows"
    assert list(wanted.to_document())[-1] == "path"
    assert fields.restorable()["path"] == "path"

    remote = snapshot(response_of(wanted, path="/elsewhere"), wanted.flow_name)
    assert remote.fields["path"] == "/elsewhere"
    record = record_of(remote.id, wanted.name, wanted.comparable(), SourceState())
    plan = make_plan([wanted], [remote], ownership=OURS, env_tag="env:dev",
                     records={remote.id: record})
    item = plan.items[0]
    assert item.action == "update"
    assert [(c.field, c.old, c.new) for c in item.changes] == [("path", "/elsewhere",
                                                                 "/srv/flows")]
    assert item.drift == ["path"]  # the record says we applied /srv/flows: edited on the server
    assert DeploymentUpdate(**fields.payload(wanted, {"path"})).path == "/srv/flows"
