"""A worker on another machine runs exactly the commit that was deployed.

The repository copy is a git repository whose remote is a local bare repository
(``file://``), the way a worker elsewhere would reach GitHub. A real process worker runs
in an empty folder with no checkout: each run clones the remote. The flow reports the
commit it ran (``git rev-parse HEAD`` in its clone) and a marker from its source. After
the branch moves on, the deployed version still runs the old commit; a redeploy moves it.
A commit that was never pushed is refused in production (a worker could not fetch it)
and deployed with a warning in development.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    CliResult,
    Namespace,
    client,
    edit_config,
    isolate_repo,
    run_cli,
)
from tests.support.workers import Worker, completed, running_worker

pytestmark = pytest.mark.e2e

FLOW = '''"""Report which commit this run executes."""

import subprocess
from pathlib import Path

from prefect import flow

MARK = "{mark}"


@flow(name="which-commit")
def which_commit() -> dict:
    """The commit of the clone this file sits in, and the marker of its source."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                          capture_output=True, text=True, check=True).stdout.strip()
    print(f"ran commit {{head}} mark {{MARK}}")
    return {{"commit": head, "mark": MARK, "folder": str(Path(__file__).parent)}}
'''


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                          cwd=root, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def commit_mark(root: Path, mark: str) -> str:
    (root / "flows" / "gitpin" / "workflow.py").write_text(FLOW.format(mark=mark),
                                                           encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"mark {mark}")
    return git(root, "rev-parse", "HEAD")


@pytest.fixture()
def repo(repo_copy: Path, tmp_path: Path) -> tuple[Path, Namespace, str]:
    """The repository copy with one flow, committed and pushed to a bare ``file://`` remote."""
    namespace = isolate_repo(repo_copy)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    url = remote.as_uri()

    def config(data: dict[str, Any]) -> None:
        data["source"] = {"git": {"url": url, "branch": "main"}}
        data["defaults"]["kinds"] = ["python"]

    edit_config(repo_copy, config)
    (repo_copy / "flows" / "gitpin").mkdir()
    (repo_copy / ".gitignore").write_text("build/\n.deploytasks/\n__pycache__/\n")
    git(repo_copy, "init", "-q", "-b", "main")
    git(repo_copy, "remote", "add", "origin", url)
    commit_mark(repo_copy, "first")
    git(repo_copy, "push", "-q", "origin", "main")
    return repo_copy, namespace, url


@pytest.fixture()
def worker(repo: tuple[Path, Namespace, str], prefect_api: str,
           tmp_path: Path) -> Iterator[Worker]:
    """A process worker in an empty folder: no checkout, it has only the remote."""
    _root, namespace, _url = repo
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    with running_worker(prefect_api, namespace.pool("python"), tmp_path, cwd=empty) as started:
        yield started


def _deploy(root: Path, api: str, env: str = "dev") -> CliResult:
    return run_cli(root, "deploy.python", "--env", env, "--flow", "gitpin", "--json",
                   api_url=api)


def _live(api: str, name: str) -> Any:
    with client(api) as prefect:
        return prefect.read_deployment_by_name(f"which-commit/{name}")


def _run(api: str, deployment_id: Any, worker: Worker) -> dict[str, Any]:
    """One run through the worker to completion; what the flow returned."""
    result: dict[str, Any] = worker.result(completed(api, deployment_id, worker).state)
    return result


def test_a_remote_worker_runs_the_deployed_commit_after_the_branch_moves_on(
        repo: tuple[Path, Namespace, str], worker: Worker, prefect_api: str) -> None:
    root, namespace, url = repo
    first = git(root, "rev-parse", "HEAD")
    deployed = _deploy(root, prefect_api)
    assert deployed.code == 0, deployed.describe()
    assert deployed.json()["warnings"] == [], deployed.json()
    name = namespace.name("gitpin")
    live = _live(prefect_api, name)
    assert live.pull_steps == [{"prefect.deployments.steps.git_clone": {
        "repository": url, "commit_sha": first}}]

    ran = _run(prefect_api, live.id, worker)
    assert (ran["commit"], ran["mark"]) == (first, "first")
    assert not Path(ran["folder"]).is_relative_to(root)  # a clone, not this checkout

    second = commit_mark(root, "second")
    git(root, "push", "-q", "origin", "main")
    ran = _run(prefect_api, live.id, worker)
    assert (ran["commit"], ran["mark"]) == (first, "first"), "the deployed commit, not HEAD"

    plan = run_cli(root, "deploy.test", "--flow", "gitpin", "--json", api_url=prefect_api)
    changes = {c["field"] for item in plan.json()["plan"] for c in item["changes"]}
    assert {"pull_steps", "version"} <= changes, plan.json()
    assert _deploy(root, prefect_api).code == 0
    ran = _run(prefect_api, live.id, worker)
    assert (ran["commit"], ran["mark"]) == (second, "second")


def test_an_unpushed_commit_is_refused_in_production_and_warned_about_elsewhere(
        repo: tuple[Path, Namespace, str], prefect_api: str) -> None:
    root, namespace, _url = repo
    unpushed = commit_mark(root, "local only")
    refused = _deploy(root, prefect_api, "prod")
    assert refused.code == 1, refused.describe()
    [skipped] = refused.json()["skipped"]
    assert skipped["name"] == namespace.name("gitpin", env="prod")
    assert f"commit {unpushed[:12]} is not on origin/main" in skipped["reason"]
    assert skipped["hint"] == "push it (git push origin HEAD:main), then deploy again"
    with client(prefect_api) as prefect:
        from prefect.exceptions import ObjectNotFound

        with pytest.raises(ObjectNotFound):
            prefect.read_deployment_by_name(
                f"which-commit/{namespace.name('gitpin', env='prod')}")

    (root / "flows" / "gitpin" / "notes.txt").write_text("uncommitted")
    warned = run_cli(root, "deploy.python", "--env", "dev", "--flow", "gitpin",
                     api_url=prefect_api)
    assert warned.code == 0, warned.describe()
    assert f"source.git: commit {unpushed[:12]} is not on origin/main" in warned.stdout
    assert f"workers clone commit {unpushed[:12]} without them" in warned.stdout
    live = _live(prefect_api, namespace.name("gitpin"))
    assert live.pull_steps[0]["prefect.deployments.steps.git_clone"]["commit_sha"] == unpushed
