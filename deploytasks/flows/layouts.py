"""Where a repository keeps its flows, and the key each flow is known by.

Three layouts, any number of them in one repository:

- ``folders`` (the guide's, the default): every child folder of a flows directory
  is a flow, keyed by the folder name (``flows/rpa1/workflow.py`` → ``rpa1``);
- ``files``: every file of a flows directory that matches the pattern is a flow,
  keyed by its stem (``flows/etl.py`` → ``etl``); files that define no flow are
  helper modules and are left out;
- ``entrypoints``: ``path/to/file.py:function`` listed in the configuration, keyed
  by the entry's ``name`` or else the file's stem; entries of one file without a
  name share its stem and deploy one flow each.

A *unit* is what one key stands for: a folder, a file, or an entrypoint's file.
Only names are listed here; nothing is read or parsed. A unit that cannot be a flow
(its key, its missing file: ``rules.structure``) carries the error that says so.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from deploytasks.findings import Finding
from deploytasks.flows.files import is_dir, skipped_dir
from deploytasks.flows.rules.structure import missing_entrypoint_file, unusable_key
from deploytasks.paths import relative

LAYOUTS = ("folders", "files", "entrypoints")
NOT_FLOW_FILES = frozenset({"__init__.py", "__main__.py", "conftest.py", "setup.py"})


@dataclass(frozen=True)
class SourceOptions:
    """One flows directory and how it is laid out (``folders`` or ``files``)."""

    flows_dir: str = "flows"
    layout: str = "folders"
    pattern: str = "workflow.py"
    exclude: tuple[str, ...] = ()
    setting: str = "discovery"  # where it is configured, for messages


@dataclass(frozen=True)
class EntrypointOption:
    """One configured entrypoint: the file, the function, and the key when one is given."""

    path: str
    function: str
    name: str | None = None
    setting: str = "discovery.entrypoints"


@dataclass(frozen=True)
class Unit:
    """What one flow key stands for: a folder, or one file (files and entrypoints layouts)."""

    key: str
    layout: str
    path: Path  # absolute: the folder, or the file
    pattern: str = "workflow.py"  # folders: which files of the folder are read
    functions: tuple[str, ...] = ()  # entrypoints: the functions named, in order
    setting: str = "discovery"
    problem: Finding | None = None  # the error that makes the unit invalid
    origins: tuple[str, ...] = field(default=(), compare=False)  # entrypoints as written

    @property
    def is_file(self) -> bool:
        """True for the layouts whose unit is one file."""
        return self.layout != "folders"


def file_units(root: Path, base: Path, source: SourceOptions) -> list[Unit]:
    """The files layout: every matching file of the directory (not its sub-folders)."""
    units = []
    for name in _listing(base, source.exclude, want_dirs=False):
        if name in NOT_FLOW_FILES or not name.endswith(".py") or \
                not fnmatchcase(name, source.pattern):
            continue
        path = base / name
        rel = relative(path, root)
        problem = unusable_key(rel, name[:-3], rel, source.setting)
        units.append(Unit(name[:-3], "files", path, source.pattern, setting=source.setting,
                          problem=problem))
    return units


def folder_units(base: Path, source: SourceOptions) -> list[Unit]:
    """The folders layout: every child folder that is not skipped (hidden, caches, venvs)."""
    return [Unit(name, "folders", base / name, source.pattern, setting=source.setting)
            for name in _listing(base, source.exclude, want_dirs=True)]


def entrypoint_units(root: Path, entries: Sequence[EntrypointOption]) -> list[Unit]:
    """One unit per named entry; entries of one file without a name share its stem.
    Units come in the order the configuration lists them."""
    order: list[str | EntrypointOption] = []
    grouped: dict[str, list[EntrypointOption]] = {}
    for entry in entries:
        if entry.name:
            order.append(entry)
        elif entry.path not in grouped:
            grouped[entry.path] = [entry]
            order.append(entry.path)
        else:
            grouped[entry.path].append(entry)
    units = []
    for item in order:
        if isinstance(item, EntrypointOption):
            units.append(_entry_unit(root, str(item.name), [item], item.setting))
            continue
        group = grouped[item]
        unit = _entry_unit(root, Path(item).stem, group, group[0].setting)
        problem = unusable_key(relative(unit.path, root), unit.key, item, "discovery.entrypoints")
        if problem and not unit.problem:
            unit = dataclasses.replace(unit, problem=problem)
        units.append(unit)
    return units


def _entry_unit(root: Path, key: str, group: list[EntrypointOption], setting: str) -> Unit:
    path = root / group[0].path
    functions = tuple(dict.fromkeys(entry.function for entry in group))
    origins = tuple(f"{entry.path}:{entry.function}" for entry in group)
    problem = missing_entrypoint_file(root, group[0].path, setting)
    return Unit(key, "entrypoints", path, functions=functions, setting=setting,
                problem=problem, origins=origins)


def _listing(base: Path, exclude: Iterable[str], *, want_dirs: bool) -> list[str]:
    """Sorted names of the folders (or files) directly in ``base``, skipped ones left out."""
    exclude = tuple(exclude)
    with os.scandir(base) as entries:
        listing = sorted(entries, key=lambda entry: entry.name)
    if want_dirs:
        return [entry.name for entry in listing
                if is_dir(entry) and not skipped_dir(entry, exclude)]
    return [entry.name for entry in listing
            if not is_dir(entry) and not entry.name.startswith(".")
            and not any(fnmatchcase(entry.name, pattern) for pattern in exclude)]
