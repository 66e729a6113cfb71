"""Layouts: folders (the guide's), files, explicit entrypoints, several in one repository;
several deployments per key; what ``--flow`` names; the names orphan detection knows."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploytasks.config import ConfigurationManager, ResolvedConfig
from deploytasks.deploy.resolve import known_names, resolve
from deploytasks.deploy.specs import deployment_name
from deploytasks.errors import ConfigError, UsageError
from deploytasks.flows.commands import discovery_options
from deploytasks.flows.discovery import FlowSpec, discover, discover_target, select_flows

FLOW = "from prefect import flow\n\n@flow\ndef {name}(x: int = 1):\n    return x\n"
TWO = """
from prefect import flow

@flow
def extract(day: str = "mon"):
    return day

@flow(name="Load Orders")
def load(day: str = "mon"):
    return day
"""


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def load(root: Path, settings: dict[str, Any]) -> ResolvedConfig:
    config = {"project": "t", "environments": {"development": {"short_name": "dev"}}, **settings}
    write(root, {"config/deployment-config.yaml": yaml.safe_dump(config),
                 "config/environments/development.yaml": ""})
    return ConfigurationManager(root=root).load("development")


def flows(config: ResolvedConfig) -> dict[str, list[FlowSpec]]:
    found: dict[str, list[FlowSpec]] = {}
    for spec in discover(config.root, discovery_options(config)):
        found.setdefault(spec.folder, []).append(spec)
    return found


def only(config: ResolvedConfig, key: str) -> FlowSpec:
    [spec] = flows(config)[key]
    return spec


# --- the files layout -------------------------------------------------------------------


def test_files_layout_keys_flows_by_stem_and_leaves_helpers_out(tmp_path: Path) -> None:
    write(tmp_path, {
        "flows/hello_world.py": FLOW.format(name="hello"),
        "flows/etl.py": "from helpers import clean\n" + FLOW.format(name="etl"),
        "flows/helpers.py": "import re\n\ndef clean(x):\n    return re.sub('a', 'b', x)\n",
        "flows/__init__.py": "",
        "flows/tests_only.py": "from etl import etl\n\ndef test_etl():\n    assert etl\n",
        "flows/broken.py": "from prefect import flow\n@flow\ndef broken(:\n",
        "flows/sub/nested.py": FLOW.format(name="nested"),
    })
    config = load(tmp_path, {"discovery": {"layout": "files"}})
    found = flows(config)
    assert sorted(found) == ["broken", "etl", "hello_world"]
    etl = only(config, "etl")
    assert (etl.path, etl.function, etl.layout, etl.directory) == (
        "flows/etl.py", "etl", "files", "flows")
    assert etl.files.modules == ("flows/helpers.py",)
    assert not only(config, "broken").valid
    assert only(config, "broken").guessed == ("broken",)  # its names stay known when broken


def test_files_layout_pattern_and_exclude(tmp_path: Path) -> None:
    write(tmp_path, {"pipelines/a_flow.py": FLOW.format(name="a"),
                     "pipelines/b_flow.py": FLOW.format(name="b"),
                     "pipelines/scratch_flow.py": FLOW.format(name="c"),
                     "pipelines/notes.py": FLOW.format(name="d")})
    config = load(tmp_path, {"discovery": {"flows_dir": "pipelines", "layout": "files",
                                           "pattern": "*_flow.py",
                                           "exclude": ["scratch_*"]}})
    assert sorted(flows(config)) == ["a_flow", "b_flow"]


def test_a_file_name_that_cannot_name_deployments_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"flows/my flow.py": FLOW.format(name="a"), "flows/ok.py": FLOW.format(
        name="ok")})
    config = load(tmp_path, {"discovery": {"layout": "files"}})
    bad = only(config, "my flow")
    assert not bad.valid and "flows/my flow.py gives the flow key 'my flow'" in \
        bad.errors[0].message
    assert only(config, "ok").valid


# --- explicit entrypoints ----------------------------------------------------------------


def test_entrypoints_name_flows_in_a_package(tmp_path: Path) -> None:
    write(tmp_path, {"src/pipelines/__init__.py": "", "src/pipelines/sales.py": TWO,
                     "src/pipelines/report.py": FLOW.format(name="main")})
    config = load(tmp_path, {"discovery": {"entrypoints": [
        "src/pipelines/report.py:main",
        {"entrypoint": "src/pipelines/sales.py:extract", "name": "sales-extract"},
    ]}})
    assert sorted(flows(config)) == ["report", "sales-extract"]
    report = only(config, "report")
    assert (report.entrypoint, report.layout, report.selected_by) == (
        "src/pipelines/report.py:main", "entrypoints", "entrypoint")
    assert only(config, "sales-extract").function == "extract"


def test_entrypoints_of_one_file_without_names_share_its_stem(tmp_path: Path) -> None:
    write(tmp_path, {"jobs/sales.py": TWO})
    config = load(tmp_path, {"discovery": {"entrypoints": ["jobs/sales.py:extract",
                                                           "jobs/sales.py:load"]}})
    specs = flows(config)["sales"]
    assert [(s.function, s.several) for s in specs] == [("extract", True), ("load", True)]
    assert {deployment_name(config, s, "python") for s in specs} == {
        "sales-extract-python-dev", "sales-load-python-dev"}


def test_entrypoint_problems_are_per_flow(tmp_path: Path) -> None:
    write(tmp_path, {"jobs/sales.py": TWO, "jobs/ok.py": FLOW.format(name="ok")})
    config = load(tmp_path, {"discovery": {"entrypoints": [
        "jobs/missing.py:f", "jobs/sales.py:transform", "jobs/ok.py:ok"]},
        "flows": {"ok": {"flow": "ok"}}})
    found = flows(config)
    assert "does not exist" in found["missing"][0].errors[0].message
    assert "matches none of the flows here" in found["sales"][0].errors[0].message
    assert "comes from discovery.entrypoints[2]" in found["ok"][0].errors[0].message


@pytest.mark.parametrize("entry", ["jobs/x.py", "/abs/x.py:f", "../x.py:f", "jobs/x.py:1f",
                                   "pkg.mod:f"])
def test_a_malformed_entrypoint_is_a_configuration_error(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match="is not an entrypoint"):
        load(tmp_path, {"discovery": {"entrypoints": [entry]}})


# --- two layouts in one repository, and keys used twice -----------------------------------


def test_three_layouts_in_one_repository(tmp_path: Path) -> None:
    write(tmp_path, {"flows/rpa1/workflow.py": FLOW.format(name="rpa1"),
                     "scripts/nightly.py": FLOW.format(name="nightly"),
                     "src/app/job.py": FLOW.format(name="job")})
    config = load(tmp_path, {"discovery": {
        "also": [{"flows_dir": "scripts", "layout": "files"}],
        "entrypoints": [{"entrypoint": "src/app/job.py:job", "name": "app-job"}]}})
    found = {key: specs[0] for key, specs in flows(config).items()}
    assert {key: spec.layout for key, spec in found.items()} == {
        "rpa1": "folders", "nightly": "files", "app-job": "entrypoints"}
    assert all(spec.valid for spec in found.values())


def test_a_key_from_two_sources_is_an_error_naming_both(tmp_path: Path) -> None:
    write(tmp_path, {"flows/etl/workflow.py": FLOW.format(name="etl_a"),
                     "scripts/etl.py": FLOW.format(name="etl_b"),
                     "scripts/other.py": FLOW.format(name="other")})
    config = load(tmp_path, {"discovery": {"also": [{"flows_dir": "scripts",
                                                     "layout": "files"}]}})
    found = flows(config)
    [folder], [file] = found["etl"][:1], found["etl"][1:]
    assert "is also the key of scripts/etl.py" in folder.errors[0].message
    assert "is also the key of flows/etl" in file.errors[0].message
    assert only(config, "other").valid


def test_a_missing_extra_folder_is_a_configuration_error(tmp_path: Path) -> None:
    write(tmp_path, {"flows/a/workflow.py": FLOW.format(name="a")})
    config = load(tmp_path, {"discovery": {"also": [{"flows_dir": "nope", "layout": "files"}]}})
    with pytest.raises(ConfigError, match=r"set discovery\.also\[0\]\.flows_dir"):
        flows(config)


def test_entrypoints_alone_need_no_flows_folder(tmp_path: Path) -> None:
    write(tmp_path, {"app/job.py": FLOW.format(name="job")})
    config = load(tmp_path, {"discovery": {"entrypoints": ["app/job.py:job"]}})
    assert only(config, "job").valid


def test_one_flow_under_two_keys_is_two_deployments_not_a_duplicate(tmp_path: Path) -> None:
    write(tmp_path, {"app/job.py": FLOW.format(name="job")})
    config = load(tmp_path, {"discovery": {"entrypoints": [
        {"entrypoint": "app/job.py:job", "name": "job-daily"},
        {"entrypoint": "app/job.py:job", "name": "job-hourly"}]}})
    found = flows(config)
    assert found["job-daily"][0].valid and found["job-hourly"][0].valid


# --- several deployments per key ---------------------------------------------------------


@pytest.mark.parametrize(("template", "names"), [
    ("{flow}-{type}-{env}", {"etl-extract-python-dev", "etl-load-python-dev"}),
    ("{flow}-{function}-{type}-{env}", {"etl-extract-python-dev", "etl-load-python-dev"}),
    ("{flow}.{flow_name}.{env}", {"etl.extract.dev", "etl.Load Orders.dev"}),
])
def test_a_folder_deploying_several_flows_names_each(tmp_path: Path, template: str,
                                                     names: set[str]) -> None:
    write(tmp_path, {"flows/etl/workflow.py": TWO})
    config = load(tmp_path, {"naming": {"deployment": template},
                             "flows": {"etl": {"flow": ["extract", "Load Orders"],
                                               "kinds": ["python"]}}})
    specs = flows(config)["etl"]
    assert [(s.function, s.several, s.selected_by) for s in specs] == [
        ("extract", True, "configured"), ("load", True, "configured")]
    resolution = resolve(config, ("python",))
    assert {s.name for s in resolution.specs} == names
    assert names <= resolution.known_names


def test_a_single_flow_keeps_its_name_without_the_function(tmp_path: Path) -> None:
    write(tmp_path, {"flows/etl/workflow.py": TWO})
    config = load(tmp_path, {"flows": {"etl": {"flow": "load", "kinds": ["python"]}}})
    assert [s.name for s in resolve(config, ("python",)).specs] == ["etl-python-dev"]


def test_one_bad_name_in_a_list_does_not_stop_the_other(tmp_path: Path) -> None:
    write(tmp_path, {"flows/etl/workflow.py": TWO})
    config = load(tmp_path, {"flows": {"etl": {"flow": ["extract", "nope"],
                                               "kinds": ["python"]}}})
    resolution = resolve(config, ("python",))
    assert [s.name for s in resolution.specs] == ["etl-extract-python-dev"]
    assert "'nope', which matches none" in resolution.skipped[0].reason
    assert "etl-nope-python-dev" in resolution.known_names


@pytest.mark.parametrize("value", [[], ["a", "a"], ["a", " "]])
def test_a_bad_flow_list_is_a_configuration_error(tmp_path: Path, value: list[str]) -> None:
    write(tmp_path, {"flows/etl/workflow.py": TWO})
    with pytest.raises(ConfigError, match=r"deployment-config\.yaml:.*flows\.etl\.flow"):
        load(tmp_path, {"flows": {"etl": {"flow": value}}})


def test_deployment_names_that_clash_skip_both_flows(tmp_path: Path) -> None:
    """Key ``a`` deploying ``b_c`` and key ``a-b_c`` would share ``a-b_c-python-dev``."""
    write(tmp_path, {"flows/a/workflow.py": TWO.replace("extract", "b_c"),
                     "flows/a-b_c/workflow.py": FLOW.format(name="other")})
    config = load(tmp_path, {"flows": {"a": {"flow": ["b_c", "load"]}},
                             "defaults": {"kinds": ["python"]}})
    resolution = resolve(config, ("python",))
    assert [s.name for s in resolution.specs] == ["a-load-python-dev"]
    reasons = [s.reason for s in resolution.skipped]
    assert len(reasons) == 2 and all("is also the name of" in r for r in reasons)


# --- --flow in every layout ------------------------------------------------------------


def test_flow_selects_by_key_name_file_or_entrypoint_in_every_layout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"flows/rpa1/workflow.py": FLOW.format(name="rpa1"),
                     "scripts/nightly.py": FLOW.format(name="nightly"),
                     "src/app/jobs.py": TWO})
    config = load(tmp_path, {"discovery": {
        "also": [{"flows_dir": "scripts", "layout": "files"}],
        "entrypoints": ["src/app/jobs.py:extract", "src/app/jobs.py:load"]}})
    monkeypatch.chdir(tmp_path / "scripts")
    specs = discover(config.root, discovery_options(config))

    def picked(target: str) -> list[str]:
        return [f"{s.folder}:{s.function}" for s in select_flows(config.root, specs, target)]

    assert picked("rpa1") == picked("flows/rpa1") == picked("flows/rpa1/workflow.py") == \
        ["rpa1:rpa1"]
    assert picked("nightly") == picked("nightly.py") == picked("scripts/nightly.py") == \
        ["nightly:nightly"]
    assert picked("jobs") == ["jobs:extract", "jobs:load"]
    assert picked("src/app/jobs.py:load") == picked("Load Orders") == ["jobs:load"]
    assert picked(str(tmp_path / "src/app/jobs.py")) == ["jobs:extract", "jobs:load"]
    with pytest.raises(UsageError, match="no flow folder or flow file"):
        discover_target(config.root, "nope", discovery_options(config))
    with pytest.raises(UsageError, match="no flow named 'nope'"):
        resolve(config, ("python",), ("nope",))
    assert {s.folder for s in resolve(config, ("python",), ("jobs",)).flows} == {"jobs"}


# --- orphan detection knows every name, broken flows included ----------------------------


def test_known_names_cover_broken_flows_in_every_layout(tmp_path: Path) -> None:
    broken = "from prefect import flow\n@flow\ndef {name}(:\n"
    write(tmp_path, {"flows/rpa1/workflow.py": broken.format(name="rpa1"),
                     "flows/multi/workflow.py": broken.format(name="extract") +
                     "\ndef load(): ...\n",
                     "scripts/nightly.py": broken.format(name="nightly"),
                     "src/app/jobs.py": broken.format(name="extract")})
    config = load(tmp_path, {"discovery": {
        "also": [{"flows_dir": "scripts", "layout": "files"}],
        "entrypoints": ["src/app/jobs.py:extract", "src/app/jobs.py:load"]},
        "flows": {"multi": {"flow": ["extract", "load"]}}})
    found = discover(config.root, discovery_options(config))
    assert not any(spec.valid for spec in found)
    names = known_names(config, found)
    for expected in ("rpa1-python-dev", "rpa1-docker-dev", "nightly-python-dev",
                     "multi-extract-python-dev", "multi-load-docker-dev",
                     "jobs-extract-python-dev", "jobs-load-python-dev"):
        assert expected in names, expected


def test_known_names_with_a_function_template_and_a_broken_file(tmp_path: Path) -> None:
    write(tmp_path, {"flows/etl.py": "from prefect import flow\n@flow(name='Daily ETL')\n"
                                     "def run_etl(:\n"})
    config = load(tmp_path, {"discovery": {"layout": "files"},
                             "naming": {"deployment": "{flow}-{function}-{type}-{env}"}})
    names = known_names(config, discover(config.root, discovery_options(config)))
    assert "etl-run_etl-python-dev" in names


# --- --changed-since in every layout ------------------------------------------------------


def test_changed_since_selects_flows_by_their_own_files_in_every_layout(tmp_path: Path) -> None:
    from deploytasks.changes import ChangeSet

    write(tmp_path, {"flows/rpa1/workflow.py": FLOW.format(name="rpa1"),
                     "scripts/etl.py": "import helpers\n" + FLOW.format(name="etl"),
                     "scripts/other.py": FLOW.format(name="other"),
                     "scripts/helpers.py": "X = 1\n", "Dockerfile": "FROM x\n"})
    config = load(tmp_path, {"discovery": {"also": [{"flows_dir": "scripts", "layout": "files"}]}})
    specs = {s.folder: s for s in discover(config.root, discovery_options(config))}

    def selected(*files: str) -> set[str]:
        changes = ChangeSet("ref", False, frozenset(), frozenset(files))
        return {key for key, spec in specs.items() if changes.selects_flow(spec)}

    assert selected("flows/rpa1/data.csv") == {"rpa1"}
    assert selected("scripts/helpers.py") == {"etl"}  # the helper etl imports
    assert selected("scripts/other.py") == {"other"}
    assert selected("Dockerfile") == {"rpa1", "etl", "other"}  # all build from it
    assert selected("README.md") == set()
