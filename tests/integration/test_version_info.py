"""Version info: the deployed commit, branch and remote, sent as Prefect's git versioning
sends it, kept in the drift record and shown by ``deploy.check``, never with credentials.

The repository copy is a git repository whose ``origin`` URL carries a token. Deploys go
through a loopback proxy in front of the real server that records every write's body
(a self-hosted Prefect server accepts ``version_info`` but does not store it: Prefect
Cloud's version history does), so the test reads what was sent.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_proxy import ApiProxy
from tests.support.prefect_helpers import (
    Namespace,
    edit_config,
    isolate_repo,
    run_cli,
    set_flow_setting,
)

SECRET = "tok-9f8e7d"
REMOTE = f"https://deployer:{SECRET}@git.example.com/acme/rpa-flows.git"
CLEAN_REMOTE = "https://git.example.com/acme/rpa-flows.git"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                          cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def repo(repo_copy: Path) -> tuple[Path, Namespace]:
    namespace = isolate_repo(repo_copy)
    edit_config(repo_copy, lambda data: data["defaults"].update(kinds=["python"]))
    git(repo_copy, "init", "-q", "-b", "trunk")
    git(repo_copy, "add", ".")
    git(repo_copy, "commit", "-qm", "First flows")
    git(repo_copy, "remote", "add", "origin", REMOTE)
    return repo_copy, namespace


def _deploy(root: Path, api_url: str, *args: str) -> tuple[Any, str]:
    result = run_cli(root, *args, "--env", "dev", "--flow", "rpa1", "--json", api_url=api_url)
    assert result.code == 0, result.describe()
    output = result.stdout + result.stderr
    assert SECRET not in output
    return result.json(), output


def _sent_version_info(proxy: ApiProxy) -> list[dict[str, Any]]:
    sent = []
    for what, body in proxy.bodies:
        assert SECRET.encode() not in body, what
        if what.startswith(("POST /api/deployments", "PATCH /api/deployments")) and body:
            data = json.loads(body)
            if "version_info" in data:
                sent.append(data["version_info"])
    return sent


def test_version_info_is_sent_recorded_and_shown(repo: tuple[Path, Namespace],
                                                prefect_api: str) -> None:
    root, _ns = repo
    head = git(root, "rev-parse", "HEAD")
    with ApiProxy(prefect_api) as proxy:
        _deploy(root, proxy.url, "deploy.python")
        (info,) = _sent_version_info(proxy)
    assert info["type"] == "vcs:git" and info["commit_sha"] == head
    assert (info["branch"], info["url"], info["repository"], info["message"]) == (
        "trunk", CLEAN_REMOTE, "acme/rpa-flows", "First flows")
    assert info["version"] == head[:12]  # the deployment's version: git describe

    check, _text = _deploy(root, prefect_api, "deploy.check")
    (shown,) = check["deployments"]
    assert shown["version_info"]["commit_sha"] == head
    assert shown["version_info"]["url"] == CLEAN_REMOTE
    plain = run_cli(root, "deploy.check", "--env", "dev", "--flow", "rpa1",
                    api_url=prefect_api)
    assert f"deployed from {head[:12]} on trunk ({CLEAN_REMOTE})" in plain.stdout, plain.stdout

    unchanged, _ = _deploy(root, prefect_api, "deploy.python")
    assert unchanged["requests"]["writes"] == 0

    set_flow_setting(root, "rpa1", "description", "Invoices, described.")
    git(root, "commit", "-qam", "Describe rpa1")
    with ApiProxy(prefect_api) as proxy:
        _deploy(root, proxy.url, "deploy.python")
        (update,) = _sent_version_info(proxy)
    assert update["commit_sha"] == git(root, "rev-parse", "HEAD") != head
    assert update["message"] == "Describe rpa1"
