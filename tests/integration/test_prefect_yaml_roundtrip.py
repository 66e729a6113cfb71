"""A prefect.yaml project deployed two ways, one real server each, compared field by field.

Server A: ``prefect --no-prompt deploy --all`` in the flat example repository (its
work pool created first, as prefect deploy wants). Server B: ``invoke flows.import
--from prefect.yaml --write``, then ``invoke deploy.python``. For every deployment of
the prefect.yaml, the two servers must hold the same flow, entrypoint, parameters,
parameter schema, description, tags, work pool and queue, job variables, schedules,
schedules' parameters, slugs, anchor dates and ``day_or``, concurrency limit and
options, paused, parameter enforcement, pull steps and the automations of triggers
(trigger and actions, ``{{ event }}`` templates included). The
differences are the deliberate ones the README lists (names, our ownership tags, the
version, an automation's name and tags) and the settings the import reports as not carried
(here ``version``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    CONFIG_FILE,
    PROJECT_ROOT,
    cli_env,
    client,
    new_private_server,
    read_yaml,
    run_cli,
)

FLAT = PROJECT_ROOT / "tests" / "resources" / "repos" / "flat"
PREFECT = str(Path(sys.executable).parent / "prefect")
OURS = {"managed-by:deploytasks", "env:dev", "type:python"}


def read_all(api_url: str) -> dict[str, dict[str, Any]]:
    """Every deployment of the server as plain data, by name, with its flow's name."""
    with client(api_url) as prefect:
        flows = {flow.id: flow.name for flow in prefect.read_flows()}
        automations = prefect.read_automations()
        found = {}
        for deployment in prefect.read_deployments():
            limit = deployment.global_concurrency_limit
            found[deployment.name] = {
                "flow": flows[deployment.flow_id],
                "entrypoint": deployment.entrypoint,
                "parameters": deployment.parameters,
                "parameter_openapi_schema": deployment.parameter_openapi_schema,
                "description": deployment.description,
                "tags": sorted(deployment.tags),
                "work_pool_name": deployment.work_pool_name,
                "work_queue_name": deployment.work_queue_name,
                "job_variables": deployment.job_variables,
                "schedules": sorted(_schedule(s) for s in deployment.schedules),
                "concurrency_limit": limit.limit if limit else None,
                "concurrency_options": deployment.concurrency_options,
                "enforce_parameter_schema": deployment.enforce_parameter_schema,
                "pull_steps": deployment.pull_steps,
                "paused": deployment.paused,
                "version": deployment.version,
                "automations": sorted(_automation(a) for a in automations
                                      if _runs(a, deployment.id)),
            }
    return found


def _runs(automation: Any, deployment_id: Any) -> bool:
    return any(getattr(action, "deployment_id", None) == deployment_id
               for action in automation.actions)


def _automation(automation: Any) -> str:
    """An automation as compared: its trigger and actions without ids (its name follows the
    deployment's name, a deliberate difference; its tags are our ownership)."""
    def without_ids(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_ids(v) for k, v in value.items()
                    if k not in ("id", "deployment_id")}
        if isinstance(value, list):
            return [without_ids(v) for v in value]
        return value

    shape = automation.model_dump(mode="json", include={"description", "enabled", "trigger",
                                                        "actions", "actions_on_trigger",
                                                        "actions_on_resolve"})
    return json.dumps(without_ids(shape), sort_keys=True)


def _schedule(item: Any) -> tuple[Any, ...]:
    schedule = item.schedule
    extras = (json.dumps(item.parameters, sort_keys=True), item.slug,
              getattr(schedule, "day_or", None))
    for kind in ("cron", "interval", "rrule"):
        value = getattr(schedule, kind, None)
        if value is not None:
            text = str(value.total_seconds()) if kind == "interval" else str(value)
            # an interval's anchor is compared where the prefect.yaml gives one (here: all)
            anchor = schedule.anchor_date.isoformat() if kind == "interval" else None
            # no timezone means UTC; prefect deploy stores none, deploytasks stores UTC
            return kind, text, schedule.timezone or "UTC", bool(item.active), *extras, anchor
    raise AssertionError(f"unknown schedule {schedule!r}")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FLAT, root)
    shutil.copy2(PROJECT_ROOT / "tasks.py", root / "tasks.py")
    return root


def with_prefect_deploy(repo: Path, folder: Path) -> dict[str, dict[str, Any]]:
    server = new_private_server(folder).start()
    try:
        env = cli_env(server.api_url, {"PREFECT_HOME": str(folder / "cli-home")})
        for command in ([PREFECT, "--no-prompt", "work-pool", "create", "flat-process-pool",
                         "--type", "process"], [PREFECT, "--no-prompt", "deploy", "--all"]):
            done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                                  timeout=600, stdin=subprocess.DEVNULL, check=False)
            assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return read_all(server.api_url)
    finally:
        server.stop()


def with_deploytasks(repo: Path, folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    server = new_private_server(folder).start()
    try:
        imported = run_cli(repo, "flows.import", "--from", "prefect.yaml", "--write", "--json",
                           api_url=server.api_url)
        assert imported.code == 0, imported.describe()
        deployed = run_cli(repo, "deploy.python", "--env", "dev", "--json",
                           api_url=server.api_url)
        assert deployed.code == 0, deployed.describe()
        again = run_cli(repo, "deploy.test", "--env", "dev", "--json", api_url=server.api_url)
        changed = [(item["name"], item["changes"]) for item in again.json()["plan"]
                   if item["action"] != "unchanged"]
        assert not changed  # a second deploy would send nothing
        return imported.json(), read_all(server.api_url)
    finally:
        server.stop()


def test_prefect_deploy_and_the_imported_configuration_give_the_same_deployments(
        repo: Path, tmp_path: Path) -> None:
    theirs = with_prefect_deploy(repo, tmp_path / "server-a")
    document, ours = with_deploytasks(repo, tmp_path / "server-b")
    names = {d["name"]: d["deployment"] for d in document["deployments"]}
    project = f"project:{read_yaml(repo / CONFIG_FILE)['project']}"  # ours, not theirs
    assert set(names) == set(theirs) == {"hello", "etl-hourly", "daily-report", "weekly-report",
                                         "cleanup-nightly", "hello-weekend"}
    not_carried = {(item["deployment"], item["field"]) for item in document["not_carried"]}
    assert not_carried == {("weekly-report", "version")}
    assert theirs["cleanup-nightly"]["paused"] and ours[names["cleanup-nightly"]]["paused"]
    assert theirs["etl-hourly"]["concurrency_options"] is not None
    assert [s[5] for s in theirs["etl-hourly"]["schedules"]] == ["hourly"]  # the slug
    [greeting] = theirs["hello"]["automations"]  # a trigger, its template untouched
    assert "{{ event.payload.visitor }}" in greeting
    for name, expected in theirs.items():
        actual = dict(ours[names[name]])
        assert set(actual["tags"]) >= OURS | {project}, actual["tags"]
        actual["tags"] = sorted(set(actual["tags"]) - OURS - {project})
        expected.pop("version")
        actual.pop("version")
        assert expected["description"] not in (None, "None") or actual["description"] == ""
        if expected["description"] in (None, "None"):  # Prefect's client sends None as "None"
            expected["description"] = actual["description"] = ""
        assert actual == expected, name
