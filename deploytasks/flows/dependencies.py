"""The dependencies a repository declares once for all its flows, read without installing.

Sources, each at the repository root: ``requirements*.txt`` and ``requirements/*.txt``
(pip's format, ``-r`` followed), ``pyproject.toml`` (``[project.dependencies]``,
``[project.optional-dependencies]``, ``[dependency-groups]``, Poetry's dependency
tables), and the lock files ``uv.lock`` and ``poetry.lock`` (every package they
pin is installed with the project). Each canonical distribution name remembers
the first file that declares it, and a file that cannot be read is a warning.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploytasks.findings import WARNING, Finding
from deploytasks.flows.files import read_text
from deploytasks.flows.imports import canonical, parse_requirements

PYPROJECT = "pyproject.toml"
LOCK_FILES = ("uv.lock", "poetry.lock")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Declared:
    """What the repository declares: name → the file (and table) that declares it."""

    names: Mapping[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # the files read, in the order above
    project: str | None = None  # ``[project].name``: the repository's own distribution
    problems: tuple[Finding, ...] = ()  # warnings: files that could not be read
    target: str | None = None  # where a new dependency belongs (see ``declare_in``)

    def declares(self, distributions: Iterable[str]) -> str | None:
        """The file that declares one of ``distributions`` (canonical names), or None."""
        return next((self.names[name] for name in distributions if name in self.names), None)


def read_declared(root: Path) -> Declared:
    """Every dependency the repository's root files declare."""
    names: dict[str, str] = {}
    files: list[str] = []
    problems: list[Finding] = []
    target = None
    for rel in _requirement_files(root):
        files.append(rel)
        target = target or rel
        for name in _requirements_names(root, rel, problems):
            names.setdefault(name, rel)
    project = None
    if (root / PYPROJECT).is_file():
        files.append(PYPROJECT)
        data = _toml(root, PYPROJECT, problems)
        project = _project_name(data)
        for name, where in _pyproject_names(data):
            names.setdefault(name, f"{PYPROJECT} {where}")
        if target is None and _table(data, "project"):
            target = f"{PYPROJECT} [project.dependencies]"
    for lock in LOCK_FILES:
        if (root / lock).is_file():
            files.append(lock)
            for name in _lock_names(_toml(root, lock, problems)):
                names.setdefault(name, lock)
    return Declared(names, tuple(files), project, tuple(problems), target)


def _requirement_files(root: Path) -> list[str]:
    found = sorted(p.name for p in root.glob("requirements*.txt") if p.is_file())
    folder = root / "requirements"
    if folder.is_dir():
        found += sorted(f"requirements/{p.name}" for p in folder.glob("*.txt") if p.is_file())
    return found


def _requirements_names(root: Path, rel: str, problems: list[Finding]) -> set[str]:
    text, problem = read_text(root / rel, root)
    if text is None:
        if problem:
            problems.append(dataclasses.replace(problem, severity=WARNING))
        return set()
    parsed = parse_requirements(text)
    names = set(parsed.names)
    for _, include in parsed.includes:  # -r beside the file, inside the repository
        path = (root / rel).parent / include
        if path.resolve().is_relative_to(root.resolve()) and path.is_file():
            names |= parse_requirements(path.read_text(encoding="utf-8", errors="replace")).names
    return names


def _toml(root: Path, rel: str, problems: list[Finding]) -> dict[str, Any]:
    """A TOML file as data; one that does not parse is a problem, and counts as empty."""
    text, problem = read_text(root / rel, root)
    if text is None:
        if problem:
            problems.append(dataclasses.replace(problem, severity=WARNING, file=rel))
        return {}
    try:
        return _parse_toml(text)
    except ValueError as error:  # tomllib.TOMLDecodeError and toml's errors are ValueErrors
        line = re.search(r"line (\d+)", str(error))
        problems.append(Finding.warning(rel, int(line.group(1)) if line else None,
                                        f"{rel} is not valid TOML: {str(error).splitlines()[0]}",
                                        f"fix {rel}; its dependencies are not counted until then"))
        return {}


def _parse_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the toml package Prefect requires
        import toml  # type: ignore[import-untyped,unused-ignore]

        return dict(toml.loads(text))
    return tomllib.loads(text)


def _table(data: Any, *keys: str) -> dict[str, Any]:
    """The nested table at ``keys`` (empty when a key is missing or not a table)."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _project_name(data: Mapping[str, Any]) -> str | None:
    name = _table(data, "project").get("name") or _table(data, "tool", "poetry").get("name")
    return canonical(name) if isinstance(name, str) else None


def _pyproject_names(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(canonical name, table) for every dependency string or key of pyproject.toml."""
    project = _table(data, "project")
    yield from _pep508(project.get("dependencies"), "[project.dependencies]")
    for extra, items in _tables(project.get("optional-dependencies")):
        yield from _pep508(items, f"[project.optional-dependencies] {extra}")
    for group, items in _tables(data.get("dependency-groups")):
        yield from _pep508(items, f"[dependency-groups] {group}")
    poetry = _table(data, "tool", "poetry")
    yield from _keys(poetry.get("dependencies"), "[tool.poetry.dependencies]")
    yield from _keys(poetry.get("dev-dependencies"), "[tool.poetry.dev-dependencies]")
    for group, table in _tables(poetry.get("group")):
        yield from _keys(_table(table, "dependencies") or None,
                         f"[tool.poetry.group.{group}.dependencies]")
    yield from _pep508(_table(data, "tool", "uv").get("dev-dependencies"),
                       "[tool.uv] dev-dependencies")


def _tables(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        yield from ((str(key), item) for key, item in value.items())


def _pep508(items: Any, where: str) -> Iterator[tuple[str, str]]:
    """Names of requirement strings; tables (``{include-group = …}``) name no package."""
    for item in items if isinstance(items, list) else ():
        match = _NAME.match(item) if isinstance(item, str) else None
        if match:
            yield canonical(match.group(1)), where


def _keys(table: Any, where: str) -> Iterator[tuple[str, str]]:
    for key in table if isinstance(table, dict) else ():
        if str(key).lower() != "python":
            yield canonical(str(key)), where


def _lock_names(data: Mapping[str, Any]) -> Iterator[str]:
    for package in data.get("package", []) if isinstance(data.get("package"), list) else []:
        name = package.get("name") if isinstance(package, dict) else None
        if isinstance(name, str):
            yield canonical(name)
