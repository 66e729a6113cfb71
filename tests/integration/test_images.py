"""images.build / push / pull against a real Docker engine and real registries.

The session builds the example flows once (from temp copies carrying a
session nonce, so the first build really builds); later tests reuse those
images by content and change only what they test. Everything the session
tags lives under a random namespace and is removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from invoke.exceptions import Exit

from deploytasks.images import commands
from deploytasks.taskrun import run
from tests.support.docker_services import (
    PROJECT_ROOT,
    EngineHandle,
    Registry,
    docker,
    free_port,
    private_namespace,
    stop_registry,
)
from tests.support.policy import started_registry

pytestmark = pytest.mark.docker

EXAMPLE_FLOWS = ("rpa1", "rpa2", "rpa3")
ENV_TO_CLEAR = ("DOCKER_REGISTRY", "DOCKER_NAMESPACE", "DOCKER_TAG", "DOCKER_BASE_IMAGE",
                "DOCKER_USERNAME", "DOCKER_PASSWORD", "DEPLOYMENT_ENV", "DEPLOYTASKS_ROOT",
                "DEPLOYMENT_CONFIG_PATH")
FIXTURE_DOCKERFILE = """\
ARG BASE_IMAGE=deploytasks/prefect-base:3.9.1-python3.11
FROM ${BASE_IMAGE}
ARG FLOW_NAME
USER root
RUN useradd --create-home --uid 10001 app
COPY --chown=app:app . /opt/prefect/flows/${FLOW_NAME}/
USER app
"""
BROKEN_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN echo preparing
RUN for i in $(seq 1 15); do echo "broken-line-$i"; done; exit 3
"""


@dataclass
class Outcome:
    """What one images command did: exit code, its JSON document, and stderr."""

    code: int
    doc: dict[str, Any]
    err: str

    def status(self) -> dict[str, str]:
        return {image["flow"]: image["status"] for image in self.doc.get("images", [])}

    def image(self, flow: str) -> dict[str, Any]:
        return next(i for i in self.doc["images"] if i["flow"] == flow)


def call(action: str, root: Path, capsys: pytest.CaptureFixture[str], **options: Any) -> Outcome:
    """Run ``commands.<action>`` through the task runner in --json mode."""
    capsys.readouterr()
    code = 0
    try:
        run(lambda out: getattr(commands, action)(out, root=root, **options), json=True)
    except Exit as error:
        code = int(error.code or 0)
    captured = capsys.readouterr()
    doc = json.loads(captured.out) if captured.out.strip() else {}
    return Outcome(code, doc, captured.err)


# ---- services -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def namespace(docker_engine: EngineHandle) -> Iterator[str]:
    """A namespace private to these tests (inside the session's); removed afterwards."""
    with private_namespace("images") as name:
        yield name


@pytest.fixture(scope="session")
def registry(docker_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Registry]:
    """An open docker-registry on a loopback port."""
    started = started_registry(tmp_path_factory.mktemp("registry"))
    yield started
    stop_registry(started)


@pytest.fixture(scope="session")
def auth_registry(docker_engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Registry]:
    """A docker-registry with htpasswd auth (plain http on the loopback)."""
    password = "pw-" + secrets.token_hex(8)
    started = started_registry(tmp_path_factory.mktemp("auth-registry"), username="alice",
                               password=password)
    yield started
    stop_registry(started)


# ---- repositories -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nonce() -> str:
    """Makes this session's images new to the engine, so the first build really builds."""
    return secrets.token_hex(8)


def make_repo(root: Path, nonce: str) -> Path:
    """A repository copy: the project's config and the example flows (or stand-ins)."""
    shutil.copytree(PROJECT_ROOT / "config", root / "config")
    for flow in EXAMPLE_FLOWS:
        target = root / "flows" / flow
        source = PROJECT_ROOT / "flows" / flow
        if (source / "Dockerfile").is_file():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(
                "__pycache__", "output", ".env"))
        else:
            target.mkdir(parents=True)
            (target / "Dockerfile").write_text(FIXTURE_DOCKERFILE)
            (target / "workflow.py").write_text(f"# stand-in for {flow}\n")
        (target / "session-nonce.txt").write_text(nonce + "\n")
    return root


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, namespace: str) -> None:
    """No DOCKER_* setting of the caller leaks in; images go to the session namespace."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("DOCKER_BUILD_ARG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOCKER_NAMESPACE", namespace)


@pytest.fixture
def repo(tmp_path: Path, nonce: str, base_image: str, first_build: Outcome) -> Path:
    """A fresh repository copy whose images the session already built."""
    return make_repo(tmp_path / "repo", nonce)


@pytest.fixture(scope="session")
def first_build(tmp_path_factory: pytest.TempPathFactory, nonce: str, base_image: str,
                namespace: str) -> Outcome:
    """The session's first build of the example images (timed)."""
    root = make_repo(tmp_path_factory.mktemp("first") / "repo", nonce)
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV_TO_CLEAR:
            patch.delenv(name, raising=False)
        patch.setenv("DOCKER_NAMESPACE", namespace)
        capture = _JsonCapture()
        started = time.monotonic()
        outcome = capture.call("build", root)
        outcome.doc["wall_seconds"] = time.monotonic() - started
    return outcome


class _JsonCapture:
    """capsys is function-scoped; the session build captures stdout itself."""

    def call(self, action: str, root: Path) -> Outcome:
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run(lambda o: getattr(commands, action)(o, root=root), json=True)
            except Exit as error:
                code = int(error.code or 0)
        text = out.getvalue()
        return Outcome(code, json.loads(text) if text.strip() else {}, err.getvalue())


def manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "build" / "images" / "manifest.json").read_text())["images"]


# ---- build --------------------------------------------------------------------------------------


def test_first_build_builds_every_example_image(first_build: Outcome, namespace: str) -> None:
    assert first_build.code == 0, first_build.err
    assert first_build.status() == {flow: "built" for flow in EXAMPLE_FLOWS}
    for flow in EXAMPLE_FLOWS:
        image = first_build.image(flow)
        assert image["image"] == f"{namespace}/{flow}-worker:latest"
        assert image["content_image"].startswith(f"{namespace}/{flow}-worker:c-")
        inspected = docker("image", "inspect", "--format", "{{.Id}}", image["content_image"])
        assert inspected.stdout.strip() == image["image_id"]


def test_image_runs_prefect_as_non_root(first_build: Outcome, namespace: str) -> None:
    done = docker("run", "--rm", f"{namespace}/rpa1-worker:latest", "sh", "-c",
                  'id -u; python -c "import prefect; print(prefect.__version__)"; '
                  "ls /opt/prefect/flows/rpa1")
    uid, version, *files = done.stdout.split()
    assert done.returncode == 0, done.stderr
    assert uid != "0" and version.startswith("3.")
    assert "workflow.py" in files and "session-nonce.txt" in files


def test_rebuild_without_change_reuses_every_image_fast(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    outcome = call("build", repo, capsys)
    seconds = time.monotonic() - started
    assert outcome.code == 0, outcome.err
    assert outcome.status() == {flow: "reused" for flow in EXAMPLE_FLOWS}
    assert seconds < 2.0, f"no-change rebuild took {seconds:.2f}s"
    records = manifest(repo)
    assert {records[f]["status"] for f in EXAMPLE_FLOWS} == {"reused"}


def test_changing_one_flow_rebuilds_only_that_image(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (repo / "flows" / "rpa2" / "workflow.py").open("a") as handle:
        handle.write("\n# changed by the test\n")
    outcome = call("build", repo, capsys)
    assert outcome.code == 0, outcome.err
    assert outcome.status() == {"rpa1": "reused", "rpa2": "built", "rpa3": "reused"}


def test_changing_an_ignored_file_rebuilds_nothing(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "flows" / "rpa1" / "output").mkdir(exist_ok=True)
    (repo / "flows" / "rpa1" / "output" / "run.log").write_text("ignored\n")
    outcome = call("build", repo, capsys)
    assert outcome.status() == {flow: "reused" for flow in EXAMPLE_FLOWS}


def test_failing_build_leaves_the_others_built(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = repo / "flows" / "broken"
    broken.mkdir()
    (broken / "Dockerfile").write_text(BROKEN_DOCKERFILE)
    (broken / "workflow.py").write_text("# broken\n")
    outcome = call("build", repo, capsys)
    assert outcome.code == 1
    assert outcome.status() == {"broken": "failed", "rpa1": "reused", "rpa2": "reused",
                                "rpa3": "reused"}
    tail = outcome.image("broken")["tail"]
    assert re.match(r"Step \d+/\d+ : RUN for i in", tail[0])
    assert tail[-1] == "broken-line-15" and "broken-line-5" not in tail
    assert "returned a non-zero code: 3" in outcome.image("broken")["error"]
    assert "broken-line-15" in outcome.err  # the last lines are shown to people too


def test_flow_name_docker_refuses_is_a_per_image_error(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(repo / "flows" / "rpa1", repo / "flows" / "Bad Name")
    outcome = call("build", repo, capsys)
    assert outcome.code == 1
    assert outcome.status()["Bad Name"] == "failed"
    assert "Docker refuses" in outcome.image("Bad Name")["error"]
    assert outcome.status()["rpa1"] == "reused"


def test_secret_file_in_context_is_warned_about(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "flows" / "rpa3" / "id_rsa").write_text("not really a key\n")
    outcome = call("build", repo, capsys, flow="rpa3")
    assert outcome.code == 0
    assert "rpa3/id_rsa looks like a secret" in outcome.err
    assert outcome.image("rpa3")["warnings"]


# ---- registries ---------------------------------------------------------------------------------


def test_push_then_pull_through_a_local_registry(
        repo: Path, registry: Registry, namespace: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{registry.host}/proj"
    built = call("build", repo, capsys, registry=target)
    assert built.status() == {flow: "reused" for flow in EXAMPLE_FLOWS}  # found by content label
    pushed = call("push", repo, capsys, registry=target)
    assert pushed.code == 0, pushed.err
    records = manifest(repo)
    for flow in EXAMPLE_FLOWS:
        assert pushed.image(flow)["digest"].startswith("sha256:")
        assert records[flow]["digest"] == pushed.image(flow)["digest"]
    rpa1 = f"{target}/{namespace}/rpa1-worker"
    docker("image", "rm", f"{rpa1}:latest", f"{rpa1}:{records['rpa1']['content_tag']}")
    assert docker("image", "inspect", f"{rpa1}:latest").returncode != 0
    pulled = call("pull", repo, capsys, registry=target)
    assert pulled.code == 0, pulled.err
    assert pulled.status() == {flow: "pulled" for flow in EXAMPLE_FLOWS}
    assert docker("image", "inspect", f"{rpa1}:latest").returncode == 0


def test_push_of_an_image_never_built_names_the_fix(
        repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = call("push", repo, capsys, registry=f"{registry.host}/never-built")
    assert outcome.code == 1
    error = outcome.image("rpa1")["error"]
    assert "is not in the local engine" in error and "invoke images.build" in error


def test_htpasswd_registry_with_good_credentials(
        repo: Path, auth_registry: Registry, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert auth_registry.password
    user_config = Path.home() / ".docker" / "config.json"
    before = user_config.read_text() if user_config.exists() else None
    monkeypatch.setenv("DOCKER_USERNAME", "alice")
    monkeypatch.setenv("DOCKER_PASSWORD", auth_registry.password)
    target = f"{auth_registry.host}/team"
    assert call("build", repo, capsys, registry=target).code == 0
    outcome = call("push", repo, capsys, registry=target, flow="rpa1")
    assert outcome.code == 0, outcome.err
    assert outcome.image("rpa1")["digest"].startswith("sha256:")
    assert auth_registry.password not in json.dumps(outcome.doc) + outcome.err
    after = user_config.read_text() if user_config.exists() else None
    assert after == before  # the login went to a private config folder


def test_htpasswd_registry_with_bad_credentials(
        repo: Path, auth_registry: Registry, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_USERNAME", "alice")
    monkeypatch.setenv("DOCKER_PASSWORD", "wrong-password-123")
    outcome = call("push", repo, capsys, registry=f"{auth_registry.host}/team")
    assert outcome.code == 1
    assert auth_registry.host in outcome.err and "DOCKER_PASSWORD" in outcome.err
    assert "wrong-password-123" not in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


def test_htpasswd_registry_without_credentials(
        repo: Path, auth_registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{auth_registry.host}/team"
    call("build", repo, capsys, registry=target)
    outcome = call("push", repo, capsys, registry=target, flow="rpa2")
    assert outcome.code == 1
    assert "docker login" in outcome.image("rpa2")["error"]


def test_registry_down_is_one_clear_error(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"127.0.0.1:{free_port()}/proj"
    call("build", repo, capsys, registry=target)
    outcome = call("push", repo, capsys, registry=target)
    assert outcome.code == 3
    assert "is not reachable" in outcome.err and target.split("/")[0] in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


def test_push_without_registry_is_a_usage_error(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = call("push", repo, capsys)
    assert outcome.code == 2
    assert "no registry configured" in outcome.err


# ---- deploy side --------------------------------------------------------------------------------


def test_image_for_flow_and_locate_image(
        repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    from deploytasks.config import ConfigurationManager
    from deploytasks.images.refs import image_for_flow, locate_image

    target = f"{registry.host}/refs"
    call("build", repo, capsys, registry=target)
    cfg = ConfigurationManager(root=repo).load(overrides={"docker.registry": target})
    ref = image_for_flow(cfg, "rpa3")
    assert ref.content_image and ref.content_image.startswith(f"{target}/")
    assert ref.digest is None and locate_image(ref) == "local"
    assert call("push", repo, capsys, registry=target, flow="rpa3").code == 0
    ref = image_for_flow(cfg, "rpa3")
    assert ref.digest and ref.content_image
    assert ref.pinned == f"{ref.repository}@{ref.digest}"
    docker("image", "rm", ref.image, ref.content_image)
    assert locate_image(ref) == "registry"
    cfg_missing = ConfigurationManager(root=repo).load(
        overrides={"docker.registry": f"{registry.host}/nothing-here"})
    assert locate_image(image_for_flow(cfg_missing, "rpa1")) == "missing"


# ---- engine down --------------------------------------------------------------------------------


def test_engine_unreachable_exits_3_with_one_line(tmp_path: Path, nonce: str) -> None:
    repo = make_repo(tmp_path / "repo", nonce)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tasks.py").write_text(
        "from invoke import Collection\nfrom deploytasks.images.tasks import ns as images\n"
        "ns = Collection()\nns.add_collection(images)\n")
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:1",
           "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "invoke", "-r", str(tasks), "images.build"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "error: Docker engine not reachable at tcp://127.0.0.1:1 — start Docker "
        "(dockerd / systemctl start docker) or set DOCKER_HOST"]
    assert done.stdout == ""


# ---- the shared Dockerfile -----------------------------------------------------------------------

MONOREPO = PROJECT_ROOT / "tests" / "resources" / "repos" / "monorepo"


def test_flows_without_their_own_dockerfile_share_one_image_built_once(
        tmp_path: Path, base_image: str, nonce: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The monorepo's root Dockerfile builds every flow's image with the repository as
    context: one build for all, .dockerignore honoured, deploytasks' own state left out,
    and the content tag moves exactly when a file that goes in changes."""
    root = tmp_path / "mono"
    shutil.copytree(MONOREPO, root)
    config = root / "config" / "deployment-config.yaml"
    config.write_text(config.read_text().replace("kinds: [python]", "kinds: [python, docker]"))
    (root / "session-nonce.txt").write_text(nonce + "\n")
    (root / ".env").write_text("SECRET=not-in-the-image\n")  # .dockerignore'd
    first = call("build", root, capsys)
    assert first.code == 0, first.err
    statuses = first.status()
    assert set(statuses) == {"marketing", "sales", "report", "metrics-refresh"}
    assert sorted(statuses.values()) == ["built", "reused", "reused", "reused"]
    images = first.doc["images"]
    assert len({image["image_id"] for image in images}) == 1
    assert len({image["content_image"].rsplit(":", 1)[1] for image in images}) == 1
    listing = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", images[0]["image_id"], "-c",
         "cd /opt/prefect && ls -a && ls src/analytics pipelines/sales"],
        capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert {"report.py", "flows.py", "pyproject.toml", "Dockerfile"} <= set(listing)
    assert ".env" not in listing and "build" not in listing  # ignored; our own state
    again = call("build", root, capsys)
    assert set(again.status().values()) == {"reused"}
    (root / "pipelines" / "sales" / "transform.py").write_text("# changed\n")
    changed = call("build", root, capsys)
    assert sorted(changed.status().values()) == ["built", "reused", "reused", "reused"]
    assert changed.image("sales")["content_image"] != first.image("sales")["content_image"]
