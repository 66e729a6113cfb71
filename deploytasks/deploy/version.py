"""The version deployments carry: the repository's commit, ``-dirty`` when the tree is."""

from __future__ import annotations

import subprocess
from pathlib import Path


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
