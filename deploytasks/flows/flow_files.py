"""The files that shape how a flow is built and run, found beside its flow file.

A flow folder (folders layout) holds its own: a ``Dockerfile`` (else the repository's
shared one), ``requirements.txt``, env files, the per-flow config files, a
``.dockerignore``, and its other modules. A flow file of the files and entrypoints
layouts holds none of its own: it gets the env files beside it, the sibling modules it
imports, and the shared Dockerfile with the repository as context. One folder of a
thousand flow files is listed once per run (``forget_folders`` starts a run).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from deploytasks.flows.files import Listing, list_folder
from deploytasks.flows.model import FlowFiles
from deploytasks.flows.source import ParsedFile
from deploytasks.paths import relative

CONFIG_FILE_NAMES = ("deployment.yaml", "deployment.yml", "flow-config.yaml", "flow-config.yml")


def folder_files(root: Path, folder: Path, listing: Listing, pattern: str,
                 shared: str | None = None) -> FlowFiles:
    """A flow folder's own files (the shared Dockerfile when it has none)."""
    names = listing.files

    def rel(name: str) -> str:
        return relative(folder / name, root)

    own = "Dockerfile" in names
    dockerfile = rel("Dockerfile") if own else shared
    ignore = (rel(".dockerignore") if ".dockerignore" in names else None) if own or not shared \
        else _root_file(root, ".dockerignore")
    return FlowFiles(
        dockerfile=dockerfile,
        requirements=rel("requirements.txt") if "requirements.txt" in names else None,
        env_files=tuple(rel(n) for n in names if n == ".env" or n.startswith(".env.")),
        config_files=tuple(rel(n) for n in CONFIG_FILE_NAMES if n in names),
        dockerignore=ignore,
        modules=tuple(rel(n) for n in names if n.endswith(".py") and not fnmatchcase(n, pattern)),
        context=(relative(folder, root) if own else ".") if dockerfile else None,
    )


@dataclass(frozen=True)
class _Folder:
    """What flow files of one folder share: its importable names and its env files."""

    modules: Mapping[str, str]  # importable name → file or folder name
    env_files: tuple[str, ...]


_FOLDERS: dict[str, _Folder] = {}  # folder → what it holds, for one discovery run


def forget_folders() -> None:
    """Start a discovery run: folders are listed again (forked workers fill their own)."""
    _FOLDERS.clear()


def _folder(folder: Path) -> _Folder:
    """One folder read once per run: a flat folder holds a thousand flows."""
    key = os.fspath(folder)
    if key not in _FOLDERS:
        listing = list_folder(folder)
        modules = {name[:-3]: name for name in listing.files if name.endswith(".py")}
        modules.update({name: name for name in listing.dirs if name.isidentifier()})
        env = tuple(n for n in listing.files if n == ".env" or n.startswith(".env."))
        _FOLDERS[key] = _Folder(modules, env)
    return _FOLDERS[key]


def file_files(root: Path, path: Path, parsed: ParsedFile, shared: str | None) -> FlowFiles:
    """A flow file's files: the .env files beside it, the sibling modules it imports, and
    the shared Dockerfile."""
    folder = path.parent
    info = _folder(folder)
    tops = {ref.top for ref in parsed.imports if ref.top} | {
        name for ref in parsed.imports if ref.level == 1 and not ref.module for name in ref.names}
    tops |= {ref.module.partition(".")[0] for ref in parsed.imports if ref.level == 1}
    return FlowFiles(
        dockerfile=shared,
        env_files=tuple(relative(folder / n, root) for n in info.env_files),
        dockerignore=_root_file(root, ".dockerignore") if shared else None,
        modules=tuple(relative(folder / info.modules[top], root) for top in sorted(tops)
                      if top in info.modules and folder / info.modules[top] != path),
        context="." if shared else None,
    )


def _root_file(root: Path, name: str) -> str | None:
    return name if (root / name).is_file() else None
