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


def relative(path: Path, root: Path) -> str:
    """``path`` relative to the repository, with forward slashes (absolute when outside).

    The one way the tool writes a repository path. Plain string work, no file system:
    ``Path.relative_to`` is a hot spot when a thousand flows are read. Both paths must be
    absolute and spelled alike (``display`` resolves them first).
    """
    text, base = os.fspath(path), os.fspath(root)
    if text.startswith(base) and text[len(base):len(base) + 1] in (os.sep, ""):
        return text[len(base) + 1:].replace(os.sep, "/") or "."
    return text


def display(path: Path, root: Path) -> str:
    """A path as the user should read it: ``relative`` to the repository when inside it
    (symlinks and a relative ``path`` resolved first), else as given."""
    shown = relative(path.resolve(), root.resolve())
    return str(path) if os.path.isabs(shown) else shown
