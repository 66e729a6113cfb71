"""``deploy.clean`` and ``deploy.check`` against a real Prefect server, through the real CLI.

Cleaning touches managed deployments only (never one made by hand), deletes
nothing on a dry run, and asks before deleting production ones. Checking reads
every expected deployment back as the UI shows it, and with ``--browser``
renders the UI in headless Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.policy import require_chromium
from tests.support.prefect_helpers import (
    FLOW_NAMES,
    CliResult,
    Namespace,
    client,
    deployment,
    deployments_by_name,
    isolate_repo,
    one_line,
    run_cli,
    strip_ansi,
)

HANDMADE = "rpa1-handmade"


@dataclass
class Project:
    root: Path
    ns: Namespace
    api_url: str

    def cli(self, *args: str, code: int | None = 0, **kwargs: Any) -> CliResult:
        result = run_cli(self.root, *args, api_url=self.api_url, **kwargs)
        if code is not None:
            assert result.code == code, result.describe()
        assert "Traceback" not in result.stderr, result.describe()
        return result

    def deployments(self) -> dict[str, Any]:
        return deployments_by_name(self.api_url, self.ns.tag)


@pytest.fixture()
def project(repo_copy: Path, prefect_api: str) -> Project:
    return Project(repo_copy, isolate_repo(repo_copy), prefect_api)


@pytest.fixture()
def handmade(prefect_api: str) -> Iterator[str]:
    """A deployment of rpa1's flow made by hand (no ownership tag), removed afterwards."""
    with client(prefect_api) as prefect:
        flow_id = prefect.create_flow_from_name(FLOW_NAMES["rpa1"])
        deployment_id = prefect.create_deployment(
            flow_id=flow_id, name=HANDMADE, entrypoint="flows/rpa1/workflow.py:"
            "rpa1_processing_flow", tags=["rpa", "env:dev", "type:python"])
    yield HANDMADE
    with client(prefect_api) as prefect:
        prefect.delete_deployment(deployment_id)


def test_clean_by_pattern_spares_handmade_and_dry_run_deletes_nothing(
        project: Project, handmade: str, example_images: str) -> None:
    ns, api = project.ns, project.api_url
    project.cli("deploy.all", "--env", "dev", "--json")
    rpa1 = {ns.name("rpa1", k) for k in ("python", "docker")}

    dry = project.cli("deploy.clean", "--pattern", "rpa1-*", "--dry-run", "--json").json()
    assert dry["dry_run"] is True
    assert sorted(dry["matched"]) == sorted(rpa1)
    assert dry["deleted"] == []
    assert set(project.deployments()) == ns.names()

    done = project.cli("deploy.clean", "--pattern", "rpa1-*", "--json").json()
    assert sorted(done["deleted"]) == sorted(rpa1)
    assert handmade not in done["matched"]
    assert set(project.deployments()) == ns.names(("rpa2", "rpa3"))
    survivor = deployment(api, FLOW_NAMES["rpa1"], handmade)
    assert survivor.name == handmade and ns.tag not in survivor.tags

    # Nothing left that matches: still exit 0, and the hand-made one is never matched.
    again = project.cli("deploy.clean", "--pattern", "rpa1-*")
    assert "No managed deployments matching 'rpa1-*'" in strip_ansi(again.stdout)
    assert deployment(api, FLOW_NAMES["rpa1"], handmade).name == handmade


def test_clean_production_asks_first(project: Project, example_images: str) -> None:
    ns = project.ns
    project.cli("deploy.all", "--env", "prod", "--json")
    prod = ns.names(env="prod")
    assert set(project.deployments()) == prod

    # Everything of the environment needs --all (the contract since projects); then it asks.
    refused = project.cli("deploy.clean", "--env", "prod", "--all", code=2)  # no terminal
    assert one_line(refused.stderr), refused.describe()
    assert "--yes" in refused.stderr
    assert set(project.deployments()) == prod

    done = project.cli("deploy.clean", "--env", "prod", "--all", "--yes", "--json").json()
    assert sorted(done["deleted"]) == sorted(prod)
    assert project.deployments() == {}


def test_check_after_deploy_and_after_a_deployment_is_deleted(project: Project,
                                                              example_images: str) -> None:
    ns, api = project.ns, project.api_url
    project.cli("deploy.all", "--env", "dev", "--json")
    live = project.deployments()

    ok = project.cli("deploy.check", "--env", "dev")
    text = strip_ansi(ok.stdout)
    ui = api.removesuffix("/api")
    for name in ns.names():
        link = f"{ui}/deployments/deployment/{live[name].id}"
        assert re.search(rf"✓ {re.escape(name)}\s+{re.escape(link)}", text), text
    assert "All 6 deployments are visible and as configured." in text

    gone = ns.name("rpa2", "docker")
    with client(api) as prefect:
        prefect.delete_deployment(live[gone].id)
    missing = project.cli("deploy.check", "--env", "dev", "--json", code=1).json()
    by_name = {d["name"]: d for d in missing["deployments"]}
    assert by_name[gone]["found"] is False and by_name[gone]["ok"] is False
    assert by_name[gone]["mismatches"] == ["not found on the server"]
    assert [n for n, d in by_name.items() if not d["ok"]] == [gone]
    human = project.cli("deploy.check", "--env", "dev", code=1)
    assert f"✗ {gone}" in strip_ansi(human.stdout)


def test_check_in_browser_renders_the_deployments(project: Project, example_images: str) -> None:
    require_chromium()
    ns = project.ns
    project.cli("deploy.all", "--env", "dev", "--flow", "rpa1", "--json")
    result = project.cli("deploy.check", "--env", "dev", "--flow", "rpa1", "--browser", "--json",
                         timeout=400)
    browser = result.json()["browser"]
    rpa1 = {ns.name("rpa1", k) for k in ("python", "docker")}
    assert set(browser["seen"]) == rpa1
    assert browser["missing"] == []
    shot = project.root / "build/check-ui/deployments.png"
    assert Path(browser["screenshot"]).resolve() == shot.resolve()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty image
    page = shot.with_name("deployments.html").read_text(encoding="utf-8")
    assert '<div id="app"></div>' not in page and "</body>" in page  # kept as rendered
