"""A flow without its own Dockerfile builds from the repository's shared one, with the
repository as its context: which flows get an image, and what its content tag covers."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploytasks.config import ConfigurationManager, ResolvedConfig
from deploytasks.errors import ConfigError, UsageError
from deploytasks.flows.commands import discovery_options
from deploytasks.flows.discovery import discover
from deploytasks.images.content import content_digest
from deploytasks.images.dockerignore import context_entries, load_patterns
from deploytasks.images.targets import OWN_STATE, ImageOptions, flow_targets

FLOW = "from prefect import flow\n\n@flow\ndef {name}():\n    pass\n"
SHARED = "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nCOPY . /opt/prefect/\nUSER 1000\n"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def load(root: Path, settings: dict[str, Any] | None = None) -> ResolvedConfig:
    config = {"project": "t", "environments": {"development": {"short_name": "dev"}},
              **(settings or {})}
    write(root, {"config/deployment-config.yaml": yaml.safe_dump(config),
                 "config/environments/development.yaml": ""})
    return ConfigurationManager(root=root).load("development")


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    write(tmp_path, {"flows/own/workflow.py": FLOW.format(name="own"),
                     "flows/own/Dockerfile": SHARED,
                     "flows/plain/workflow.py": FLOW.format(name="plain"),
                     "flows/pyonly/workflow.py": FLOW.format(name="pyonly"),
                     "scripts/etl.py": FLOW.format(name="etl"),
                     "Dockerfile": SHARED, ".dockerignore": ".git\n.venv\n*.log\n"})
    return tmp_path


def test_flows_without_a_dockerfile_build_from_the_shared_one(repo: Path) -> None:
    config = load(repo, {"discovery": {"also": [{"flows_dir": "scripts", "layout": "files"}]},
                         "flows": {"pyonly": {"kinds": ["python"]}}})
    targets = {t.flow: t for t in flow_targets(config)}
    assert set(targets) == {"own", "plain", "etl"}  # pyonly needs no image
    assert (targets["own"].folder, targets["own"].dockerfile, targets["own"].shared) == (
        repo / "flows" / "own", "Dockerfile", False)
    assert (targets["plain"].folder, targets["plain"].dockerfile, targets["plain"].shared) == (
        repo, "Dockerfile", True)
    specs = {s.folder: s for s in discover(repo, discovery_options(config))}
    assert specs["plain"].files.to_dict()["context"] == "."
    assert specs["own"].files.context == "flows/own"


def test_a_configured_shared_dockerfile(repo: Path) -> None:
    write(repo, {"docker/flows.Dockerfile": SHARED})
    config = load(repo, {"docker": {"dockerfile": "docker/flows.Dockerfile"}})
    targets = {t.flow: t for t in flow_targets(config)}
    assert targets["plain"].dockerfile == "docker/flows.Dockerfile"
    assert targets["own"].dockerfile == "Dockerfile"


def test_a_configured_dockerfile_that_is_missing_is_a_configuration_error(repo: Path) -> None:
    config = load(repo, {"docker": {"dockerfile": "nope/Dockerfile"}})
    with pytest.raises(ConfigError, match=r"docker\.dockerfile is 'nope/Dockerfile'"):
        flow_targets(config)


def test_flow_selects_images_by_key_name_or_file(repo: Path) -> None:
    config = load(repo, {"discovery": {"also": [{"flows_dir": "scripts", "layout": "files"}]}})
    assert [t.flow for t in flow_targets(config, ["scripts/etl.py", "own"])] == ["etl", "own"]
    with pytest.raises(UsageError, match="no Dockerfile for flow 'nope'"):
        flow_targets(config, ["nope"])


def test_shared_builds_get_no_flow_name_so_all_flows_share_one_image(repo: Path) -> None:
    options = ImageOptions.from_config(load(repo))
    assert "FLOW_NAME" not in options.args_for("plain", {}, shared=True)
    assert options.args_for("own", {})["FLOW_NAME"] == "own"


def test_the_shared_content_tag_covers_the_repository_as_docker_sends_it(repo: Path) -> None:
    def tag() -> str:
        return content_digest(repo, {"BASE_IMAGE": "b"}, exclude=OWN_STATE).tag

    first = tag()
    (repo / "flows" / "plain" / "workflow.py").write_text(FLOW.format(name="plain2"))
    changed = tag()
    assert changed != first  # a flow file is an input of the shared image
    write(repo, {"build/images/manifest.json": "{}", ".deploytasks/cache/x": "1",
                 "run.log": "ignored by .dockerignore", ".git/HEAD": "ref"})
    assert tag() == changed  # deploytasks' own state and ignored files are not
    (repo / "Dockerfile").write_text(SHARED + "RUN true\n")
    assert tag() != changed
    sent = {e.path for e in context_entries(repo, [*OWN_STATE, *load_patterns(repo)])}
    assert "flows/plain/workflow.py" in sent and "build" not in sent and ".git" not in sent


def test_validation_checks_the_shared_dockerfile_and_wants_a_dockerignore(repo: Path) -> None:
    from deploytasks.flows.commands import validation_options
    from deploytasks.flows.validation import validate

    (repo / ".dockerignore").unlink()
    (repo / "Dockerfile").write_text("FROM python:3.11\nCOPY . /opt/prefect/\n")
    config = load(repo)
    specs = discover(repo, discovery_options(config))
    checked = {s.folder: s for s in validate(repo, specs, validation_options(
        config, [s.folder for s in specs]))}
    plain = checked["plain"]
    messages = [f.message for f in (*plain.errors, *plain.warnings)]
    assert any("sets no USER" in m for m in messages)
    assert any("repository has no .dockerignore" in m for m in messages)
    assert not any(".dockerignore" in f.message for f in checked["own"].warnings)
