"""What ``--flow`` (``FLOW=``) means, in every collection: one splitter, one matcher.

A ``--flow`` option may be repeated, and each value may list several names separated by
commas (what ``make FLOW=a,b`` passes). Each name is, in every layout, a flow's key (its
folder name, file stem or entrypoint name), its flow name, its flow file (relative to
the repository or the working directory, or absolute), its folder (folders layout) or
its entrypoint (``path/to/file.py:function``); a key that deploys several flows selects
all of them. ``flows.*``, ``deploy.*``, ``images.*`` and ``env.*`` all select this way;
each says in its own words what it does with a name that selects nothing.

Imported by the tasks modules, so nothing here imports more than the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deploytasks.paths import relative

if TYPE_CHECKING:
    from deploytasks.flows.model import FlowSpec

FLOW_HELP = ("Only these flows: a key (folder name, file stem or entrypoint name), flow name, "
             "flow file, folder or entrypoint (path/file.py:function); repeat, or separate "
             "with commas.")


def split_flows(values: str | Iterable[str] | None) -> tuple[str, ...]:
    """``--flow a --flow b``, ``--flow a,b`` and ``"a, b"`` alike: the names, in order."""
    items = [values] if isinstance(values, str) else list(values or ())
    return tuple(name.strip() for item in items for name in item.split(",") if name.strip())


def select_flows(root: Path, specs: Sequence[FlowSpec], target: str) -> list[FlowSpec]:
    """The specs one name selects, in order; none when it names nothing."""
    wanted = target.strip()
    path, _, function = wanted.rpartition(":") if ".py:" in wanted else (wanted, "", "")
    rel = _repo_path(root, path)
    return [spec for spec in specs if wanted in (spec.folder, spec.name, spec.entrypoint)
            or (rel is not None and not function and (
                rel == spec.path or (rel == spec.directory and spec.layout == "folders")))
            or (rel is not None and function and f"{rel}:{function}" == spec.entrypoint)]


def select_named(root: Path, specs: Sequence[FlowSpec],
                 names: Iterable[str]) -> tuple[list[FlowSpec], list[str]]:
    """The specs the names select (each once, in the order named), and the names that
    select nothing."""
    chosen: list[FlowSpec] = []
    unknown: list[str] = []
    for name in names:
        matches = select_flows(root, specs, name)
        if not matches:
            unknown.append(name)
        chosen.extend(match for match in matches if match not in chosen)
    return chosen, unknown


def _repo_path(root: Path, target: str) -> str | None:
    """``target`` as a repo-relative path, when it is one inside the repository."""
    if not target:
        return None
    given = Path(target)
    for path in ([given] if given.is_absolute() else [Path.cwd() / given, root / given]):
        path = Path(os.path.abspath(path))
        rel = relative(path, root)
        if rel != str(path) and path.exists():
            return rel
    return None
