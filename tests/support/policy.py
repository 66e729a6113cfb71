"""The one rule for a service a test cannot have: skip on a laptop, fail in CI.

On a developer's machine a missing service (Docker engine, registry, Prefect server,
PostgreSQL, Chromium, make…) skips the test with the reason and how to install it. In CI
(``CI`` or ``DEPLOYTASKS_REQUIRE_SERVICES`` set to 1/true/yes; ``.ci/run`` sets the latter)
every service has been provisioned, so a skip would hide a failure: the test fails instead.

Every test and fixture that needs a service goes through ``skip_or_fail`` (or one of the
``started_…``/``require_…`` helpers below, which call it); none calls ``pytest.skip`` for a
missing service. ``docker_services`` stays free of pytest: it raises ``ServiceMissing``, and
the helpers here turn that into the skip or the failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.docker_services import Registry, ServiceMissing, engine_answers, start_registry
from tests.support.prefect_helpers import PrivateServer, new_private_server

TRUE = {"1", "true", "yes"}


def services_required() -> bool:
    """True in CI, where a missing service is a failure, not a skip."""
    return any(os.environ.get(name, "").strip().lower() in TRUE
               for name in ("CI", "DEPLOYTASKS_REQUIRE_SERVICES"))


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test with ``reason`` (which says how to install what is missing), or fail it
    when services are required."""
    if services_required():
        pytest.fail(f"required service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_engine() -> None:
    """A Docker engine must answer ``docker info``."""
    if not engine_answers():
        skip_or_fail("no Docker engine answers (apt-get install docker.io; start dockerd)")


def require_program(*names: str, package: str) -> str:
    """The path of the first of ``names`` on PATH; ``package`` is the apt package to install."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    skip_or_fail(f"{names[0]} is not installed (apt-get install {package})")


def needs_program(name: str, package: str) -> pytest.MarkDecorator:
    """A marker for tests that run ``name``: skipped on a laptop without it (with the install
    hint); in CI the test runs, and fails where it starts the missing program."""
    missing = shutil.which(name) is None and not services_required()
    return pytest.mark.skipif(missing, reason=f"{name} is not installed "
                                              f"(apt-get install {package})")


def require_chromium() -> str:
    """Chromium, for the browser checks."""
    return require_program("chromium", "chromium-browser", package="chromium")


def started_registry(folder: Path, *, username: str | None = None,
                     password: str | None = None) -> Registry:
    """A running ``docker-registry`` (the caller stops it), or the test skipped/failed."""
    try:
        return start_registry(folder, username=username, password=password)
    except ServiceMissing as error:
        skip_or_fail(str(error))


@contextmanager
def private_server(folder: Path) -> Iterator[PrivateServer]:
    """A Prefect server of one test or module (it may stop and restart it), stopped afterwards;
    or the test skipped/failed when it cannot start."""
    server = new_private_server(folder)
    try:
        server.start()
    except Exception as error:  # any failure to start is a reason to skip (or fail in CI)
        skip_or_fail(f"cannot start a private Prefect server: {error}")
    try:
        yield server
    finally:
        server.stop()
