"""The version deployments carry: the repository's commit, ``-dirty`` when the tree is;
and the source a run deploys from (commit, branch, remote, message) for the version info
and the drift records."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from deploytasks.deploy.records import SourceState


def git_version(root: Path) -> str | None:
    """``git describe --always --dirty`` in one call; None outside a git work tree."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=root, capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def tree_is_dirty(root: Path) -> bool:
    """True when the work tree has uncommitted changes (tracked or untracked)."""
    done = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                          text=True, timeout=10, check=False)
    return done.returncode != 0 or bool(done.stdout.strip())


def source_state(root: Path) -> SourceState:
    """The commit HEAD points at, its branch and whether the tree has changes (one git
    call), then the commit's first message line and the remote's URL (one call each):
    what Prefect's git version info holds. Asked once per run that writes, however many
    deployments it writes (``prefect deploy`` spends five git calls per deployment)."""
    from deploytasks.deploy.records import SourceState

    status = _git(root, "status", "--porcelain=v2", "--branch")
    if status is None:
        return SourceState()
    heads = dict(line[2:].split(" ", 1) for line in status.splitlines()
                 if line.startswith("# ") and " " in line[2:])
    oid = heads.get("branch.oid", "").strip()
    commit = oid if oid and oid != "(initial)" else None
    head = heads.get("branch.head", "").strip()
    branch = head if head and head != "(detached)" else None
    dirty = any(not line.startswith("#") for line in status.splitlines() if line)
    if commit is None:
        return SourceState(None, dirty, branch)
    remote = heads.get("branch.upstream", "origin/").split("/", 1)[0] or "origin"
    message = _git(root, "log", "-1", "--format=%s")
    url = _git(root, "config", "--get", f"remote.{remote}.url")
    return SourceState(commit, dirty, branch, without_credentials(url.strip()) if url else None,
                       message.strip() if message else None)


def without_credentials(url: str) -> str | None:
    """A remote URL without the user info an https remote may carry (``user:token@``):
    it is sent to the server and shown. None when nothing is left."""
    if "://" not in url:
        return url or None  # scp-like git@host:path: the user is not a secret
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)) or None


def _git(root: Path, *args: str) -> str | None:
    """One git command's output; None when git fails or is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
