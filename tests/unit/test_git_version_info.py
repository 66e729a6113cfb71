"""The source a run deploys from, read with few git calls, as Prefect's git version info."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from prefect._internal.versioning import GitVersionInfo, SimpleVersionInfo

from deploytasks.deploy import version
from deploytasks.deploy.records import SourceState, parse_record, record_of
from deploytasks.deploy.version import source_state, without_credentials

SECRET = "s3cr3t-token"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "release")
    (tmp_path / "a.txt").write_text("a")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm",
        "Ship the invoices\n\nlong body")
    git(tmp_path, "remote", "add", "origin",
        f"https://deployer:{SECRET}@git.example.com/acme/flows.git")
    return tmp_path


def test_source_state_reads_commit_branch_message_and_a_clean_remote(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = subprocess.run

    def counted(command: list[str], **kwargs: Any) -> Any:
        calls.append(command)
        return real(command, **kwargs)

    head = git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr(version.subprocess, "run", counted)
    state = source_state(repo)
    assert len(calls) == 3  # per run, however many deployments it writes
    assert state.commit == head
    assert (state.branch, state.message, state.dirty) == ("release", "Ship the invoices", False)
    assert state.url == "https://git.example.com/acme/flows.git"  # no user info: never sent
    (repo / "b.txt").write_text("new")
    assert source_state(repo).dirty is True


def test_version_info_has_prefects_git_shape() -> None:
    state = SourceState("0123456789abcdef" * 2 + "01234567", False, "main",
                        "git@github.com:acme/flows.git", "Ship it")
    info = state.version_info("v1.2-3-g0123456789ab")
    parsed = GitVersionInfo.model_validate(info)
    assert (parsed.type, parsed.repository, parsed.branch, parsed.commit_sha) == (
        "vcs:git", "acme/flows", "main", state.commit)
    assert parsed.version == "v1.2-3-g0123456789ab"
    simple = SourceState(None, False, "main").version_info("abc")
    assert SimpleVersionInfo.model_validate(simple).type == "prefect:simple"


def test_credentials_are_removed_from_https_remotes_only() -> None:
    assert without_credentials(f"https://u:{SECRET}@host/x.git") == "https://host/x.git"
    assert without_credentials("git@host:x.git") == "git@host:x.git"


def test_the_record_keeps_the_source_and_reads_it_back() -> None:
    state = SourceState("c" * 40, True, "main", "https://host/acme/x.git", "m" * 500)
    record = record_of("d-1", "rpa1-python-dev", {"description": "x"}, state)
    value = record.value()
    assert len(value["message"]) == 200 and len(str(value)) < 1000
    back = parse_record(record.variable_name, value)
    assert back is not None and back.source.branch == "main"
    assert back.source.url == "https://host/acme/x.git" and back.source.dirty is True
