"""Where the repository, its configuration and the tool's own state live.

Nothing here is an absolute path of any machine: the repository root is found
from the working directory (or ``DEPLOYTASKS_ROOT``), everything else from it.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_FILE = Path("config") / "deployment-config.yaml"
STATE_DIR = ".deploytasks"
BUILD_DIR = "build"


def repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``config/deployment-config.yaml``."""
    override = os.environ.get("DEPLOYTASKS_ROOT")
    if override:
        return Path(override).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return here


def state_dir(root: Path) -> Path:
    """The git-ignored folder for the local server's home, PID and logs."""
    return root / STATE_DIR


def build_dir(root: Path) -> Path:
    """The git-ignored folder for everything the tool generates."""
    return root / BUILD_DIR


def display(path: Path, root: Path) -> str:
    """A path as the user should read it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
