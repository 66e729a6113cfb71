"""The commit workers on other machines clone, and whether they can fetch it.

With ``source.git`` set, python deployments clone the repository at the commit being
deployed (Prefect's ``git_clone`` step with ``commit_sha``), so the version a deployment
names is the code its runs execute, whatever the branch does afterwards. A worker can
only fetch a commit the remote has: whether the commit is on the configured branch is
read from the local remote-tracking ref (``refs/remotes/<remote>/<branch>``, as of the
last fetch or push; no network), the remote being the one whose URL is ``source.git.url``
(else ``origin``).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploytasks.deploy.version import source_state
from deploytasks.settings import GitSource


@dataclass(frozen=True)
class GitPin:
    """The commit a deploy pins, and what is known about it."""

    commit: str | None  # None: not a git work tree (the branch is cloned then)
    dirty: bool
    remote_branch: str  # e.g. origin/main
    on_remote: bool  # the commit is in the remote-tracking branch


def git_pin(root: Path, git: GitSource) -> GitPin:
    """HEAD's commit, whether the tree has changes, and whether the remote has it."""
    state = source_state(root)
    remote = _remote_named(root, git.url)
    branch = f"{remote}/{git.branch}"
    on_remote = state.commit is not None and _git(
        root, "merge-base", "--is-ancestor", state.commit, f"refs/remotes/{branch}") == 0
    return GitPin(state.commit, state.dirty, branch, on_remote)


def _remote_named(root: Path, url: str) -> str:
    """The remote whose fetch URL is ``url`` (ignoring a trailing ``/`` or ``.git``)."""
    try:
        done = subprocess.run(["git", "config", "--get-regexp", r"^remote\..*\.url$"],
                              cwd=root, capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "origin"
    wanted = _plain(url)
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        if _plain(value) == wanted:
            return key.removeprefix("remote.").removesuffix(".url")
    return "origin"


def _plain(url: str) -> str:
    return url.strip().rstrip("/").removesuffix(".git")


def _git(root: Path, *args: str) -> int:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=10,
                              check=False).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1
