"""Shared fixtures: a real Prefect server per test session, and the CI skip policy.

Tests that need a service they cannot start are skipped with the reason —
except in CI (``CI=true`` or ``DEPLOYTASKS_REQUIRE_SERVICES=1``), where
``.ci/run`` has provisioned every service and a skip would hide a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploytasks.env.local_server import LocalServer, ServerState, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]


def services_required() -> bool:
    """True in CI, where a missing service is a failure, not a skip."""
    return os.environ.get("CI") == "true" or os.environ.get("DEPLOYTASKS_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip the test with ``reason``, or fail it when services are required."""
    if services_required():
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


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
