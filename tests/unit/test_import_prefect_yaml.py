"""flows.import: prefect.yaml deployments → deploytasks configuration, merged by inserting
lines, with everything that is not carried reported by file and line."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploytasks.config import ConfigurationManager
from deploytasks.console import Output
from deploytasks.errors import ConfigError, UsageError
from deploytasks.migrate.commands import import_command
from deploytasks.migrate.plan import ImportPlan, plan_import, slug
from deploytasks.migrate.yaml_merge import MergeError, merge_text

FLOW = ("from prefect import flow\n\n@flow\ndef {name}(x: int = 1, day: str = 'mon'):\n"
        "    return x\n")
CONFIG = """\
# deploytasks configuration — my notes stay
project: shop   # the project

discovery:
  flows_dir: flows
  exclude: []        # nothing excluded

flows:
  legacy:
    tags: [old]      # hand-written
    parameters:
      x: 5

environments:
  development: {short_name: dev}
"""
PREFECT_YAML = """\
name: shop
prefect-version: 3.9.1
build:
  - prefect_docker.deployments.steps.build_docker_image:
      image_name: shop
pull:
  - prefect.deployments.steps.set_working_directory:
      directory: {root}
definitions:
  work_pool: &pool
    name: shop-pool
    work_queue_name: default
    job_variables:
      env:
        MODE: batch
deployments:
  - name: Daily Orders
    entrypoint: jobs/orders.py:orders
    description: Orders of the day
    version: 2.0.1
    tags: [orders, "{{{{ $TEAM }}}}"]
    parameters:
      x: 3
      day: "{{{{ prefect.variables.day }}}}"
    schedules:
      - cron: "0 6 * * *"
        timezone: Europe/Berlin
        day_or: false
      - interval: 3600
        active: false
        parameters: {{x: 1}}
      - rrule: "FREQ=WEEKLY;BYDAY=MO"
    concurrency_limit:
      limit: 2
      collision_strategy: CANCEL_NEW
    enforce_parameter_schema: false
    paused: true
    triggers:
      - enabled: true
        parameters: {{x: "{{{{ event.payload.x }}}}"}}
    work_pool:
      <<: *pool
      work_queue_name: orders
  - name: legacy
    entrypoint: jobs/legacy.py:legacy
    work_pool: *pool
  - name: weekly
    entrypoint: jobs.orders:orders
    schedule:
      cron: "0 0 * * 0"
    work_pool: *pool
  - name: nowhere
    entrypoint: jobs/missing.py:f
"""


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, {"config/deployment-config.yaml": CONFIG,
                     "config/environments/development.yaml": "",
                     "flows/legacy/workflow.py": FLOW.format(name="legacy"),
                     "jobs/orders.py": FLOW.format(name="orders"),
                     "jobs/legacy.py": FLOW.format(name="legacy"),
                     "prefect.yaml": PREFECT_YAML.format(root=tmp_path)})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEPLOYMENT_CONFIG_PATH", raising=False)
    return tmp_path


def plan(root: Path, name: str = "prefect.yaml") -> ImportPlan:
    return plan_import(ConfigurationManager(root=root).load("development"), root / name)


def run(root: Path, *args: str, write: bool = False) -> tuple[int, dict[str, Any]]:
    out = Output(json_mode=True)
    captured: list[Any] = []
    out.json = captured.append  # type: ignore[method-assign]
    code = import_command(out, source=args[0] if args else "prefect.yaml", write=write)
    return code, captured[0]


def test_each_field_is_carried_or_reported_with_its_line(repo: Path) -> None:
    result = plan(repo)
    daily = next(d for d in result.imported if d.name == "Daily Orders")
    assert (daily.key, daily.entrypoint, daily.pool, daily.kind, daily.explicit) == (
        "daily-orders", "jobs/orders.py:orders", "shop-pool", "python", True)
    assert daily.settings == {
        "tags": ["orders"], "description": "Orders of the day", "parameters": {"x": 3},
        "schedules": [
            {"cron": "0 6 * * *", "timezone": "Europe/Berlin", "active": True,
             "day_or": False},
            {"interval": 3600, "active": False, "parameters": {"x": 1}},
            {"rrule": "FREQ=WEEKLY;BYDAY=MO", "active": True}],
        "concurrency_limit": {"limit": 2, "collision_strategy": "CANCEL_NEW"},
        "enforce_parameter_schema": False, "paused": True, "work_queue": "orders",
        "job_variables": {"env": {"MODE": "batch"}},
        # carried as they are: the {{ event }} template is the server's to render
        "triggers": [{"enabled": True, "parameters": {"x": "{{ event.payload.x }}"}}],
        "kinds": ["python"]}
    reported = {(item.line, item.deployment, item.field) for item in result.project.not_carried}
    assert reported >= {
        (3, None, "build"), (20, "Daily Orders", "version"),
        (21, "Daily Orders", "tags[1]"), (24, "Daily Orders", "parameters.day")}
    assert not reported & {(38, "Daily Orders", "triggers"),
                           (35, "Daily Orders", "concurrency_limit.collision_strategy"),
                           (37, "Daily Orders", "paused"), (28, "Daily Orders",
                           "schedules.day_or"), (31, "Daily Orders", "schedules.parameters")}
    assert all(item.file == "prefect.yaml" for item in result.project.not_carried)
    [skipped] = result.project.skipped
    assert (skipped.deployment, skipped.line) == ("nowhere", 52)
    assert "names no file of this repository" in skipped.reason


def test_anchors_and_module_entrypoints_and_the_legacy_schedule(repo: Path) -> None:
    weekly = next(d for d in plan(repo).imported if d.name == "weekly")
    assert weekly.entrypoint == "jobs/orders.py:orders"  # jobs.orders:orders, as a file
    assert weekly.settings["schedules"] == [{"cron": "0 0 * * 0", "active": True}]
    assert weekly.settings["work_queue"] == "default"  # from the &pool anchor


def test_a_flow_the_repository_already_has_keeps_its_key(repo: Path) -> None:
    result = plan(repo)
    legacy = next(d for d in result.imported if d.name == "legacy")
    # jobs/legacy.py is a new entrypoint; the key 'legacy' is the folder flow's: a suffix
    assert (legacy.key, legacy.explicit) == ("legacy-2", True)
    write(repo, {"prefect.yaml": PREFECT_YAML.format(root=repo).replace(
        "jobs/legacy.py:legacy", "flows/legacy/workflow.py:legacy")})
    legacy = next(d for d in plan(repo).imported if d.name == "legacy")
    assert (legacy.key, legacy.explicit) == ("legacy", False)
    assert "kinds" not in legacy.settings  # the existing flow keeps its kinds


def test_the_merge_keeps_every_line_and_comment_and_your_values(repo: Path) -> None:
    before = (repo / "config/deployment-config.yaml").read_text()
    write(repo, {"prefect.yaml": PREFECT_YAML.format(root=repo).replace(
        "jobs/legacy.py:legacy", "flows/legacy/workflow.py:legacy")})
    code, document = run(repo, write=True)
    after = (repo / "config/deployment-config.yaml").read_text()
    assert code == 1 and document["written"]  # 1: 'nowhere' could not be imported
    lines = iter(after.splitlines())
    assert all(line in lines for line in before.splitlines())  # in order, unchanged
    data = yaml.safe_load(after)
    assert data["flows"]["legacy"]["tags"] == ["old"]  # yours, kept
    assert data["flows"]["legacy"]["parameters"] == {"x": 5}
    kept = {item["setting"]: item for item in document["kept"]}
    assert kept["flows.legacy.tags"] == {"setting": "flows.legacy.tags", "yours": ["old"],
                                         "imported": []}
    assert data["discovery"]["entrypoints"] == [
        {"entrypoint": "jobs/orders.py:orders", "name": "daily-orders"},
        {"entrypoint": "jobs/orders.py:orders", "name": "weekly"}]
    assert data["work_pools"] == {"python": {"name": "shop-pool", "type": "process"}}
    assert "source" not in data  # the pull step's directory is the repository itself
    config = ConfigurationManager(root=repo).load("development")
    limit = config.settings.flows["daily-orders"].concurrency_limit
    assert limit is not None and (limit.limit, limit.collision_strategy) == (2, "CANCEL_NEW")
    assert config.settings.flows["daily-orders"].paused is True
    code, again = run(repo, write=True)
    assert not again["written"]
    assert (repo / "config/deployment-config.yaml").read_text() == after  # idempotent


def test_a_dry_run_writes_nothing_and_shows_the_names(repo: Path) -> None:
    before = (repo / "config/deployment-config.yaml").read_text()
    code, document = run(repo)
    assert code == 1 and not document["written"]
    assert (repo / "config/deployment-config.yaml").read_text() == before
    names = {d["name"]: d["deployment"] for d in document["deployments"]}
    assert names["Daily Orders"] == "daily-orders-python-dev"
    assert {"source", "config", "deployments", "additions", "kept", "not_carried", "skipped",
            "notes"} <= set(document)
    json.dumps(document)  # plain data


def test_a_repository_without_configuration_gets_one_started(repo: Path) -> None:
    shutil.rmtree(repo / "config")
    code, dry = run(repo)
    assert code == 1 and not dry["written"] and not (repo / "config").exists()
    assert dry["creates"] == ["config/deployment-config.yaml", *(
        f"config/environments/{env}.yaml" for env in ("development", "staging", "production"))]

    code, done = run(repo, write=True)
    assert done["written"] and done["additions"] == dry["additions"]
    started = ConfigurationManager(root=repo).load("production")
    assert started.settings.project == "shop"  # the prefect.yaml's name
    assert "daily-orders" in started.settings.flows
    assert all((repo / rel).is_file() for rel in dry["creates"])

    code, again = run(repo, write=True)
    assert not again["written"] and again["creates"] == []


def test_a_started_project_is_named_after_the_folder_without_a_usable_name(
        repo: Path) -> None:
    shutil.rmtree(repo / "config")
    text = (repo / "prefect.yaml").read_text().replace("name: shop\n", "name: '???'\n", 1)
    (repo / "prefect.yaml").write_text(text)
    run(repo, write=True)
    project = ConfigurationManager(root=repo).load().settings.project
    assert project == slug(repo.name)[:63].strip("-._")


def test_a_pool_your_configuration_names_differently_is_reported(repo: Path) -> None:
    write(repo, {"config/deployment-config.yaml": CONFIG.replace(
        "environments:", "work_pools:\n  python: {name: mine, type: process}\n\nenvironments:")})
    result = plan(repo)
    assert "work_pools" not in result.additions
    assert any("sends python deployments to 'mine'" in item.reason
               for item in result.project.not_carried)


def test_pull_from_git_becomes_the_source(repo: Path) -> None:
    text = PREFECT_YAML.format(root=repo).replace(
        "  - prefect.deployments.steps.set_working_directory:\n      directory: " + str(repo),
        "  - prefect.deployments.steps.git_clone:\n      repository: https://example.com/x.git\n"
        "      branch: dev\n      credentials: \"{{ prefect.blocks.github-credentials.ci }}\"\n"
        "  - prefect.deployments.steps.pip_install_requirements:\n"
        "      requirements_file: requirements.txt")
    write(repo, {"prefect.yaml": text})
    result = plan(repo)
    assert result.additions["source"] == {"git": {
        "url": "https://example.com/x.git", "branch": "dev",
        "credentials_block": "prefect.blocks.github-credentials.ci"}}
    assert any(item.field == "pull[1]" for item in result.project.not_carried)


def test_prefect_yaml_in_a_subfolder_reads_entrypoints_from_there(repo: Path) -> None:
    write(repo, {"deploy/prefect.yaml": "deployments:\n  - name: x\n"
                                        "    entrypoint: ../jobs/orders.py:orders\n"})
    [deployment] = plan(repo, "deploy/prefect.yaml").imported
    assert deployment.entrypoint == "jobs/orders.py:orders"


def test_bad_input_is_a_clear_error(repo: Path) -> None:
    with pytest.raises(UsageError, match=r"no prefect\.yaml at 'nope\.yaml'"):
        run(repo, "nope.yaml")
    write(repo, {"bad.yaml": "deployments:\n  - name: [\n"})
    with pytest.raises(ConfigError) as error:
        plan(repo, "bad.yaml")
    assert error.value.where == "bad.yaml:3"


@pytest.mark.parametrize(("name", "key"), [("Daily Orders", "daily-orders"),
                                           ("etl/nightly", "etl-nightly"), ("__", "deployment")])
def test_slug(name: str, key: str) -> None:
    assert slug(name) == key


def test_merge_refuses_what_it_cannot_insert_cleanly() -> None:
    with pytest.raises(MergeError, match="one-line mapping"):
        merge_text("flows: {a: {tags: []}}\n", {"flows": {"b": {"tags": []}}})


def test_merge_fills_empty_values_and_appends_to_entrypoints() -> None:
    text = textwrap.dedent("""\
        discovery:
          entrypoints: []   # none yet
        flows: {}
        """)
    merged = merge_text(text, {"discovery": {"entrypoints": [{"entrypoint": "a.py:f"}]},
                               "flows": {"a": {"tags": ["x"]}}},
                        frozenset({("discovery", "entrypoints")}))
    assert "# none yet" in merged.text
    assert yaml.safe_load(merged.text) == {"discovery": {"entrypoints": [{"entrypoint": "a.py:f"}]},
                                           "flows": {"a": {"tags": ["x"]}}}
    again = merge_text(merged.text, {"discovery": {"entrypoints": [{"entrypoint": "b.py:g"}]}},
                       frozenset({("discovery", "entrypoints")}))
    assert [e["entrypoint"] for e in yaml.safe_load(again.text)["discovery"]["entrypoints"]] == [
        "a.py:f", "b.py:g"]
