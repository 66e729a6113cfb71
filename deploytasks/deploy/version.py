"""The version deployments carry: the repository's commit, ``-dirty`` when the tree is."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

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
    """The commit HEAD points at and whether the tree has changes, from one git call."""
    from deploytasks.deploy.records import SourceState

    try:
        done = subprocess.run(["git", "status", "--porcelain=v2", "--branch"], cwd=root,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return SourceState()
    if done.returncode != 0:
        return SourceState()
    commit = None
    dirty = False
    for line in done.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            commit = oid if oid != "(initial)" else None
        elif not line.startswith("#"):
            dirty = True
    return SourceState(commit, dirty)
