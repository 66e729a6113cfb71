"""Shared fixtures: a real Prefect server per test session, Docker, and the CI skip policy.

Tests that need a service they cannot start are skipped with the reason —
except in CI, where they fail: the one rule is ``tests/support/policy.py``
(``skip_or_fail``). Helpers live in ``tests/support/`` and are imported as
``tests.support.…``; nothing imports this file.

Tests own their state: the session names its images in a Docker namespace of its
own (``t-<random>``, in ``DOCKER_NAMESPACE`` and in every CLI run), builds the
example images it needs through ``example_images``, and removes every image and
container of that namespace when it ends. Only the base image survives between
runs, reused when its recipe label matches (``deploytasks.images.base_image``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploytasks.env.local_server import LocalServer, ServerState, free_port
from tests.support.docker_services import (
    NAMESPACE_VARIABLE,
    EngineHandle,
    ServiceMissing,
    dangling_build_images,
    engine_answers,
    ensure_base_image,
    ensure_engine,
    new_session_namespace,
    remove_images,
    remove_namespace_images,
    stop_process,
)
from tests.support.policy import skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[1]


_DANGLING_AT_START: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    """Give the session its own Docker namespace before any test or fixture runs."""
    namespace = new_session_namespace()
    os.environ[NAMESPACE_VARIABLE] = namespace
    os.environ["DOCKER_NAMESPACE"] = namespace
    if shutil.which("docker") and engine_answers(timeout=5):
        _DANGLING_AT_START.update(dangling_build_images())


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"docker namespace of this session: {os.environ[NAMESPACE_VARIABLE]}"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The random order's seed, also under ``-q`` (which hides the report header)."""
    seed = terminalreporter.config.getoption("randomly_seed", default=None)
    if seed is not None:
        terminalreporter.write_line(f"random order, seed {seed}: repeat it with "
                                    f"--randomly-seed={seed}, or keep file order with "
                                    "-p no:randomly")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove every image and container of the session's namespace (an engine we can reach)."""
    namespace = os.environ.get(NAMESPACE_VARIABLE)
    if namespace and shutil.which("docker") and engine_answers(timeout=5):
        remove_namespace_images(namespace)
        remove_images(dangling_build_images() - _DANGLING_AT_START)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--prefect-db", choices=("sqlite", "postgres"),
                     default=os.environ.get("DEPLOYTASKS_TEST_DB", "sqlite"),
                     help="database of the test session's Prefect server")


@pytest.fixture(scope="session")
def prefect_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite; with --prefect-db=postgres, the URL of a fresh PostgreSQL database."""
    if request.config.getoption("--prefect-db") == "sqlite":
        yield None
        return
    from tests.support.postgres import postgres_server

    try:
        context = postgres_server()
        url = context.__enter__()
    except RuntimeError as error:
        skip_or_fail(f"cannot start PostgreSQL: {error}")
        raise
    yield url
    context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory,
                   prefect_database: str | None) -> Iterator[ServerState]:
    """A real Prefect server (SQLite, or PostgreSQL with --prefect-db=postgres) on a free
    loopback port, stopped after the session."""
    server = LocalServer(tmp_path_factory.mktemp("prefect-server"), prefect_database)
    try:
        state = server.start(free_port(), timeout=120)
    except Exception as error:  # any failure to start is a reason to skip (or fail in CI)
        skip_or_fail(f"cannot start a Prefect server: {error}")
        raise
    yield state
    server.stop()


@pytest.fixture()
def prefect_api(prefect_server: ServerState, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this test's process at the session server through ``PREFECT_API_URL``."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_server.api_url)
    monkeypatch.delenv("PREFECT_API_KEY", raising=False)
    return prefect_server.api_url


@pytest.fixture()
def repo_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the repository's flows and config; the working directory moves there."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("config", "flows"):
        shutil.copytree(REPO_ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
    monkeypatch.chdir(root)
    monkeypatch.delenv("DEPLOYTASKS_ROOT", raising=False)
    monkeypatch.delenv("DEPLOYMENT_ENV", raising=False)
    monkeypatch.delenv("DEPLOYMENT_CONFIG_PATH", raising=False)
    return root


# ---- Docker ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[EngineHandle]:
    """A Docker engine: the running one, or dockerd started (and stopped) by the session."""
    try:
        handle = ensure_engine()
    except ServiceMissing as error:
        skip_or_fail(f"Docker engine: {error}")
        raise
    yield handle
    if handle.process is not None:
        stop_process(handle.process)


@pytest.fixture(scope="session")
def base_image(docker_engine: EngineHandle) -> str:
    """The Prefect base image, built when missing (about 100 s) or reused by its recipe."""
    try:
        return ensure_base_image(REPO_ROOT)
    except ServiceMissing as error:
        skip_or_fail(f"base image: {error}")
        raise


@pytest.fixture(scope="session")
def docker_namespace() -> str:
    """The session's Docker namespace (every CLI run of the tests uses it)."""
    return os.environ[NAMESPACE_VARIABLE]


@pytest.fixture(scope="session")
def example_images(base_image: str, docker_namespace: str,
                   tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example flows' images (rpa1–rpa3), built once for the session under its namespace.

    Tests that deploy the docker kind ask for this; a repository copy whose flows are the
    examples finds them as ``<namespace>/<flow>-worker:latest``. Returns the namespace."""
    root = tmp_path_factory.mktemp("example-images") / "repo"
    root.mkdir()
    for name in ("config", "flows"):
        shutil.copytree(REPO_ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
    shutil.copy2(REPO_ROOT / "tasks.py", root / "tasks.py")
    invoke = Path(sys.executable).parent / "invoke"
    env = {**os.environ, "DOCKER_NAMESPACE": docker_namespace}
    for name in ("DOCKER_REGISTRY", "DOCKER_TAG", "DEPLOYTASKS_ROOT", "DEPLOYMENT_CONFIG_PATH"):
        env.pop(name, None)
    done = subprocess.run([str(invoke), "images.build", "--json"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    failed = _failed_images(done.stdout)
    if done.returncode != 0 or failed:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        pytest.fail(f"building the example images under {docker_namespace}/ failed "
                    f"(exit {done.returncode}): {failed or (lines[-1] if lines else '')}",
                    pytrace=False)
    return docker_namespace


def _failed_images(stdout: str) -> str:
    """``image: error`` of every image the build JSON reports as failed."""
    try:
        images = json.loads(stdout).get("images", [])
    except ValueError:
        return ""
    return "; ".join(f"{i.get('image')}: {i.get('error')}" for i in images if i.get("error"))
