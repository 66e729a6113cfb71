"""Find the flows of a repository by reading their source, never by importing it.

A flow folder is a direct child of the flows directory (``flows/<name>/``) that
holds a file matching the discovery pattern (``workflow.py``). Each file is
parsed with ``ast``: importing it would run repository code, which a CI job on
an untrusted pull request must never do (and Prefect's per-file loading is about
ten times slower: see ``bench/bench_discovery.py``).

The result is one ``FlowSpec`` per folder. A folder that cannot be deployed is
still a ``FlowSpec`` — with errors — so that one broken flow never hides or
breaks the others.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, Union

from deploytasks.errors import ConfigError, UsageError
from deploytasks.flows.entry import FlowNode, entry_flow
from deploytasks.flows.imports import ImportRef, child_blocks, collect_imports, dotted
from deploytasks.flows.layouts import (
    EntrypointOption,
    SourceOptions,
    Unit,
    entrypoint_units,
    file_units,
    folder_units,
)

__all__ = [
    "DiscoveryOptions",
    "Finding",
    "FlowFiles",
    "FlowSpec",
    "ImportRef",
    "Parameter",
    "discover",
    "discover_folder",
    "discover_one",
    "flow_folders",
    "function_node",
]

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]  # noqa: UP007 (runtime alias, py3.10)
CONFIG_HINT = "config/deployment-config.yaml"
PREFECT_FLOW_PATHS = frozenset({"prefect.flow", "prefect.flows.flow", "prefect.main.flow"})
PREFECT_FLOW_MODULES = frozenset({"prefect", "prefect.flows", "prefect.main"})
# Prefect refuses flow names holding any of these (prefect/types/names.py).
BANNED_NAME_CHARACTERS = ("/", "%", "&", ">", "<")
CONFIG_FILE_NAMES = ("deployment.yaml", "deployment.yml", "flow-config.yaml", "flow-config.yml")


@dataclass(frozen=True)
class Finding:
    """One problem, where it is, and what to do about it."""

    severity: str  # "error" fails the flow; "warning" only informs (fails under --strict)
    file: str  # repo-relative
    line: int | None
    message: str
    hint: str | None = None

    @classmethod
    def error(cls, file: str, line: int | None, message: str, hint: str | None = None) -> Finding:
        """A finding that makes the flow invalid."""
        return cls("error", file, line, message, hint)

    @classmethod
    def warning(cls, file: str, line: int | None, message: str, hint: str | None = None) -> Finding:
        """A finding that is shown but does not fail the flow."""
        return cls("warning", file, line, message, hint)

    @property
    def location(self) -> str:
        """``file:line``, or the file alone when no line applies."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain data for ``--json``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a flow function, as written in the source."""

    name: str
    kind: str  # inspect.Parameter kind, lower case: positional_or_keyword, keyword_only, ...
    annotation: str | None = None
    default: str | None = None  # source text of the default; None when there is none

    @property
    def required(self) -> bool:
        """True when a run must pass a value (no default, not *args/**kwargs)."""
        return self.default is None and not self.kind.startswith("var_")

    def to_dict(self) -> dict[str, Any]:
        """The parameter as plain data for ``--json``."""
        return {**dataclasses.asdict(self), "required": self.required}


@dataclass(frozen=True)
class FlowFiles:
    """The files that shape how a flow is built and run (repo-relative).

    ``dockerfile`` is the one its image is built from: the flow folder's own, else the
    repository's shared one; ``context`` is that build's context (the folder, or ``.``
    for the repository). The files layouts have no files of their own besides the flow
    file: their ``modules`` are the sibling modules the flow file imports.
    """

    dockerfile: str | None = None
    requirements: str | None = None
    env_files: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()
    dockerignore: str | None = None
    modules: tuple[str, ...] = ()  # sibling .py files at the top of the folder
    context: str | None = None  # build context of ``dockerfile``

    @property
    def shared_dockerfile(self) -> bool:
        """True when the image is built from the repository's shared Dockerfile."""
        return self.context == "."

    def to_dict(self) -> dict[str, Any]:
        """The files as plain data for ``--json``."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class FlowSpec:
    """One deployed flow: its key, the flow it deploys, its files, and what is wrong with it.

    A key (a flow folder, a flow file, an entrypoint) usually deploys one flow; when the
    configuration lists several (``flows.<key>.flow: [a, b]``) each is a spec of its own
    with the same ``folder`` and ``several`` set.
    """

    folder: str  # the flow's key: its name in configuration and in deployment names
    path: str  # repo-relative flow file (the folder itself when it holds none)
    directory: str = ""  # repo-relative folder
    line: int | None = None  # line of the ``def``
    end_line: int | None = None
    function: str | None = None  # entrypoint attribute: ``path:function``
    name: str | None = None  # the flow name Prefect will register
    description: str | None = None
    parameters: tuple[Parameter, ...] = ()
    version: str | None = None
    tags: tuple[str, ...] = ()
    is_async: bool = False
    files: FlowFiles = field(default_factory=FlowFiles)
    imports: tuple[ImportRef, ...] = ()
    candidates: tuple[tuple[str, str], ...] = ()  # (function, flow name) of every flow found
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    layout: str = "folders"  # folders | files | entrypoints
    selected_by: str | None = None  # only | main-block | uncalled | configured | entrypoint
    several: bool = False  # its key deploys more than one flow
    guessed: tuple[str, ...] = ()  # unreadable flow: function or flow names it may stand for

    @property
    def valid(self) -> bool:
        """A flow is valid when nothing found is an error."""
        return not self.errors

    @property
    def entrypoint(self) -> str | None:
        """``flows/x/workflow.py:fn``, the form Prefect deployments use."""
        return f"{self.path}:{self.function}" if self.function else None

    @property
    def line_range(self) -> tuple[int, int] | None:
        """First and last line (1-based, inclusive) of the flow function's ``def``."""
        if self.line is None or self.end_line is None:
            return None
        return (self.line, self.end_line)

    def with_findings(self, findings: Sequence[Finding]) -> FlowSpec:
        """A copy with more findings, split into errors and warnings."""
        if not findings:
            return self
        errors = tuple(f for f in findings if f.severity == "error")
        warnings = tuple(f for f in findings if f.severity != "error")
        return dataclasses.replace(
            self, errors=self.errors + errors, warnings=self.warnings + warnings
        )

    def to_dict(self) -> dict[str, Any]:
        """The flow as one JSON object (no env values: the spec never holds any)."""
        return {
            "folder": self.folder, "directory": self.directory,
            "name": self.name, "function": self.function,
            "path": self.path, "line": self.line, "end_line": self.end_line,
            "entrypoint": self.entrypoint, "valid": self.valid,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "description": self.description, "version": self.version,
            "tags": list(self.tags), "is_async": self.is_async,
            "parameters": [p.to_dict() for p in self.parameters],
            "files": self.files.to_dict(),
            "candidates": [{"function": f, "name": n} for f, n in self.candidates],
            "imports": sorted({ref.top for ref in self.imports if ref.top}),
            "layout": self.layout, "selected_by": self.selected_by, "several": self.several,
        }


@dataclass(frozen=True)
class DiscoveryOptions:
    """Where to look, and which flows each key deploys when its file holds several.

    The first four fields are the main flows directory; ``also`` adds more directories,
    each with its layout, and ``entrypoints`` names flows one by one.
    """

    flows_dir: str = "flows"
    pattern: str = "workflow.py"
    exclude: tuple[str, ...] = ()
    selected: Mapping[str, str | Sequence[str]] = field(default_factory=dict)  # key → names
    layout: str = "folders"
    also: tuple[SourceOptions, ...] = ()
    entrypoints: tuple[EntrypointOption, ...] = ()
    shared_dockerfile: str | None = None  # repo-relative, when the repository has one

    def sources(self) -> list[SourceOptions]:
        """The main flows directory, then the ``also`` ones."""
        main = SourceOptions(self.flows_dir, self.layout, self.pattern, self.exclude)
        return [main, *self.also]

    def selection(self, key: str) -> tuple[str, ...]:
        """The functions or flow names configured for ``key`` (empty: the entry flow)."""
        chosen = self.selected.get(key)
        if not chosen:
            return ()
        return (chosen,) if isinstance(chosen, str) else tuple(chosen)


def discover(root: Path, options: DiscoveryOptions | None = None) -> list[FlowSpec]:
    """Every flow of the repository, read and checked for flow-level errors."""
    options = options or DiscoveryOptions()
    _FOLDERS.clear()  # this run lists each folder once (forked workers fill their own)
    units = flow_units(root, options)
    with collector_paused():
        read = parallel_map(partial(read_unit, root, options=options), units)
    return flag_duplicate_names([spec for specs in read for spec in specs])


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many files are parsed.

    Parsing allocates millions of short-lived AST nodes; they hold no cycles and are
    freed by reference counting, but the collector scans them as they come (about a
    fifth of the time for a thousand flows).
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def discover_one(root: Path, target: str, options: DiscoveryOptions | None = None) -> FlowSpec:
    """The first flow ``target`` names (see ``discover_target``)."""
    return discover_target(root, target, options)[0]


def discover_target(root: Path, target: str,
                    options: DiscoveryOptions | None = None) -> list[FlowSpec]:
    """The flows ``--flow`` names: a key, a flow name, a flow file, a folder or an entrypoint.

    Every flow is read, so duplicate names are still found; an unknown target is a
    usage error.
    """
    options = options or DiscoveryOptions()
    found = select_flows(root, discover(root, options), target)
    if found:
        return found
    raise UsageError(
        f"no flow folder or flow file at {target!r} in this repository",
        hint=f"pass a flow's key (the folder name under {options.flows_dir}/, the file stem, or "
        f"the entrypoint's name), its flow name, its flow file ({options.flows_dir}/rpa1/"
        f"{options.pattern}) or its entrypoint (path/to/file.py:function)",
    )


def select_flows(root: Path, specs: Sequence[FlowSpec], target: str) -> list[FlowSpec]:
    """The specs ``target`` names, in order; none when it names nothing."""
    wanted = target.strip()
    path, _, function = wanted.rpartition(":") if ".py:" in wanted else (wanted, "", "")
    rel = _repo_path(root, path)
    return [spec for spec in specs if wanted in (spec.folder, spec.name, spec.entrypoint)
            or (rel is not None and not function and (
                rel == spec.path or (rel == spec.directory and spec.layout == "folders")))
            or (rel is not None and function and f"{rel}:{function}" == spec.entrypoint)]


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


def flow_units(root: Path, options: DiscoveryOptions) -> list[Unit]:
    """Every flow key of the repository and what it stands for; a key used twice is marked."""
    units: list[Unit] = []
    for index, source in enumerate(options.sources()):
        base = root / source.flows_dir
        if not base.is_dir() or unsafe_path(base, root):
            if index == 0 and (options.also or options.entrypoints):
                continue  # only the other sources are used
            raise ConfigError(
                f"flows directory {source.flows_dir!r} not found in {root}",
                hint=f"create it, or set {source.setting}.flows_dir in " + CONFIG_HINT,
            )
        units += folder_units(base, source) if source.layout == "folders" else \
            file_units(root, base, source)
    units += entrypoint_units(root, options.entrypoints)
    return _mark_clashes(root, units)


def _mark_clashes(root: Path, units: list[Unit]) -> list[Unit]:
    by_key: dict[str, list[Unit]] = {}
    for unit in units:
        by_key.setdefault(unit.key, []).append(unit)
    marked = []
    for unit in units:
        others = [u for u in by_key[unit.key] if u is not unit]
        if others and unit.problem is None:
            listed = ", ".join(_unit_label(root, other) for other in others)
            unit = dataclasses.replace(unit, problem=(
                f"flow key {unit.key!r} of {_unit_label(root, unit)} is also the key of {listed}",
                "keys name configuration sections and deployments, so each must be unique: "
                "rename a file or folder, or give an entrypoint a name: in discovery.entrypoints",
            ))
        marked.append(unit)
    return marked


def _unit_label(root: Path, unit: Unit) -> str:
    rel = relative(unit.path, root)
    if unit.layout == "entrypoints":
        return f"{', '.join(unit.origins) or rel} ({unit.setting})"
    return rel


def flow_folders(root: Path, options: DiscoveryOptions) -> list[Path]:
    """The flow folders of the folders-layout sources (the guide's ``flows/<name>/``)."""
    return [unit.path for unit in flow_units(root, options) if unit.layout == "folders"]


def discover_folder(root: Path, folder: Path, options: DiscoveryOptions) -> FlowSpec:
    """Read one flow folder; whatever is wrong becomes findings on its (first) spec."""
    unit = Unit(folder.name, "folders", folder, options.pattern)
    return read_unit(root, unit, options)[0]


def read_unit(root: Path, unit: Unit, options: DiscoveryOptions) -> list[FlowSpec]:
    """The specs of one key: one per deployed flow, or one carrying the errors."""
    if unit.layout == "folders":
        return _read_folder(root, unit, options)
    return _read_file_unit(root, unit, options)


def _read_folder(root: Path, unit: Unit, options: DiscoveryOptions) -> list[FlowSpec]:
    folder = unit.path
    rel = relative(folder, root)
    base = FlowSpec(folder=unit.key, path=rel, directory=rel)
    unsafe = unsafe_path(folder, root)
    problem = unit.problem or unsafe
    if problem:
        return [base.with_findings([Finding.error(rel, None, *problem)])]
    listing = list_folder(folder)
    files = _flow_files(root, folder, listing, unit.pattern, options.shared_dockerfile)
    base = dataclasses.replace(base, files=files)
    sources = [name for name in listing.files if fnmatchcase(name, unit.pattern)]
    if not sources:
        return [base.with_findings([_no_flow_file(rel, unit.pattern)])]
    if len(sources) == 1:
        parsed = [_read_flow_file(root, folder / sources[0])]
    else:  # a pattern such as *.py: files that define no flow are the folder's helpers
        parsed = [p for p in (_read_flow_file(root, folder / name, quick=True)
                              for name in sources) if p.is_flow_file] or \
            [_read_flow_file(root, folder / sources[0])]
    return _assemble(base, parsed, options.selection(unit.key), _Rules(unit.key))


def _read_file_unit(root: Path, unit: Unit, options: DiscoveryOptions) -> list[FlowSpec]:
    rel = relative(unit.path, root)
    base = FlowSpec(folder=unit.key, path=rel, directory=relative(unit.path.parent, root),
                    layout=unit.layout, guessed=unit.functions)
    problem = unit.problem or unsafe_path(unit.path, root)
    if problem:
        return [base.with_findings([Finding.error(rel, None, *problem)])]
    parsed = _read_flow_file(root, unit.path, quick=unit.layout == "files")
    if unit.layout == "files" and not parsed.is_flow_file:
        return []  # a helper module beside the flows
    files = _file_unit_files(root, unit.path, parsed, options.shared_dockerfile)
    base = dataclasses.replace(base, files=files)
    if unit.layout == "files":
        return _assemble(base, [parsed], options.selection(unit.key), _Rules(unit.key))
    configured = options.selection(unit.key)
    findings = [Finding.error(
        rel, None, f"flows.{unit.key}.flow is set, but {unit.key} comes from {unit.setting}, "
        "which names its function", f"remove flows.{unit.key}.flow from {CONFIG_HINT}",
    )] if configured else []
    specs = _assemble(base, [parsed], unit.functions, _Rules(unit.key, entrypoint=unit.setting))
    return [spec.with_findings(findings) for spec in specs]


def _no_flow_file(rel: str, pattern: str) -> Finding:
    return Finding.error(
        rel, None, f"no {pattern} in {rel}",
        f"add {pattern} with a @flow function, or add '{Path(rel).name}' to "
        f"discovery.exclude in {CONFIG_HINT} if the folder is not a flow",
    )


def _flow_files(root: Path, folder: Path, listing: Listing, pattern: str,
                shared: str | None = None) -> FlowFiles:
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


def _file_unit_files(root: Path, path: Path, parsed: _ParsedFile,
                     shared: str | None) -> FlowFiles:
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


# --- one flow file ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """A flow found in a file: the entrypoint attribute, its function, its decorator call."""

    function: str
    node: FunctionNode
    call: ast.Call | None


@dataclass(frozen=True)
class _ParsedFile:
    path: str
    source: str = ""
    candidates: tuple[_Candidate, ...] = ()
    imports: tuple[ImportRef, ...] = ()
    findings: tuple[Finding, ...] = ()
    entry: tuple[str, str] | None = None  # (function, rule) when several flows single one out
    binds_flow: bool = False  # imports Prefect's flow decorator
    guessed: tuple[str, ...] = ()  # unparsable file: the def names and name= strings in it

    @property
    def is_flow_file(self) -> bool:
        """In the files layout: a file that defines a flow, tries to, or cannot be read."""
        return bool(self.candidates or self.binds_flow or self.findings)


_GUESS_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", re.M)
_GUESS_NAME = re.compile(r"\bname\s*=\s*[\"']([^\"'\n]{1,200})[\"']")


def _read_flow_file(root: Path, path: Path, quick: bool = False) -> _ParsedFile:
    """Parse one file for its flows. ``quick``: a file whose text never says "flow" cannot
    define one, so it is not parsed at all (a helper module of the files layout)."""
    rel = relative(path, root)
    source, tree, problem = parse_source(path, root, needle="flow" if quick else None)
    if quick and tree is None and problem is None:
        return _ParsedFile(rel)
    if tree is None:
        guessed = tuple(dict.fromkeys([*_GUESS_DEF.findall(source),
                                       *_GUESS_NAME.findall(source)]))
        return _ParsedFile(rel, findings=(problem,) if problem else (), guessed=guessed)
    aliases = _FlowAliases.of(tree)
    candidates, findings = _find_flows(tree, aliases, rel)
    binds = bool(aliases.names or aliases.foreign)
    if not candidates and not any(f.severity == "error" for f in findings):
        if quick and not binds and not findings:
            return _ParsedFile(rel)
        findings.append(_no_flow_finding(rel, aliases))
    entry = None
    if len(candidates) > 1:
        entry = entry_flow(tree, [FlowNode(c.function, c.node, c.call) for c in candidates])
    return _ParsedFile(rel, source, tuple(candidates), tuple(collect_imports(tree)),
                       tuple(findings), entry, binds)


def _no_flow_finding(rel: str, aliases: _FlowAliases) -> Finding:
    if aliases.foreign:
        name, module = next(iter(aliases.foreign.items()))
        return Finding.error(
            rel, None, f"no Prefect flow: '{name}' is imported from '{module}', not from prefect",
            "import the decorator with 'from prefect import flow'",
        )
    return Finding.error(
        rel, None, "no @flow-decorated function",
        "decorate the flow function with @flow (from prefect import flow) at module level",
    )


@dataclass
class _FlowAliases:
    """The names a module binds to Prefect's ``flow`` decorator, by any import spelling."""

    # from prefect import flow [as f] → {"f"}
    names: set[str] = field(default_factory=set)
    # import prefect [as pf] → {"pf": "prefect"}
    modules: dict[str, str] = field(default_factory=dict)
    # from mylib import flow → {"flow": "mylib"}: a decorator that looks like a flow but is not
    foreign: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, tree: ast.Module) -> _FlowAliases:
        """The aliases bound by the module's import-time imports (also inside if/try)."""
        aliases = cls()
        for node in _module_statements(tree.body):
            if isinstance(node, ast.Import):
                aliases._add_import(node)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                aliases._add_import_from(node)
        return aliases

    def _add_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "prefect" or alias.name.startswith("prefect."):
                if alias.asname:
                    self.modules[alias.asname] = alias.name
                else:
                    self.modules["prefect"] = "prefect"

    def _add_import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            bound = alias.asname or alias.name
            if module in PREFECT_FLOW_MODULES and alias.name in ("flow", "*"):
                self.names.add("flow" if alias.name == "*" else bound)
            elif module == "prefect" and alias.name in ("flows", "main"):
                self.modules[bound] = f"prefect.{alias.name}"
            elif alias.name == "flow":
                self.foreign[bound] = module

    def is_flow(self, expr: ast.expr) -> bool:
        """True when ``expr`` names Prefect's flow decorator."""
        if isinstance(expr, ast.Name):
            return expr.id in self.names
        path = dotted(expr)
        if path is None or "." not in path:
            return False
        head, _, rest = path.partition(".")
        return head in self.modules and f"{self.modules[head]}.{rest}" in PREFECT_FLOW_PATHS

    def decorator(self, expr: ast.expr) -> tuple[bool, ast.Call | None]:
        """Whether ``expr`` is the flow decorator, and its call when written ``@flow(...)``."""
        if isinstance(expr, ast.Call) and self.is_flow(expr.func):
            return True, expr
        return self.is_flow(expr), None


_DEFINITIONS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})


def _module_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time: the module body and its if/try/with blocks."""
    for node in body:
        yield node
        if type(node) in _DEFINITIONS:
            continue
        for block in child_blocks(node):
            yield from _module_statements(block)


def _find_flows(
    tree: ast.Module, aliases: _FlowAliases, rel: str
) -> tuple[list[_Candidate], list[Finding]]:
    defs: dict[str, FunctionNode] = {}
    candidates: list[_Candidate] = []
    findings: list[Finding] = []
    for node in _module_statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs.setdefault(node.name, node)
            is_flow, call = _flow_decorator(node, aliases)
            if is_flow:
                candidates.append(_Candidate(node.name, node, call))
        elif isinstance(node, ast.ClassDef):
            findings.extend(_class_findings(node, aliases, rel))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            found = _functional_flow(node, aliases, defs, rel)
            if isinstance(found, Finding):
                findings.append(found)
            elif found:
                candidates.append(found)
    return _dedupe(candidates, rel, findings), findings


def _flow_decorator(node: ast.AST, aliases: _FlowAliases) -> tuple[bool, ast.Call | None]:
    for decorator in getattr(node, "decorator_list", ()):
        is_flow, call = aliases.decorator(decorator)
        if is_flow:
            return True, call
    return False, None


def _class_findings(node: ast.ClassDef, aliases: _FlowAliases, rel: str) -> list[Finding]:
    if _flow_decorator(node, aliases)[0]:
        return [Finding.error(
            rel, node.lineno, f"@flow decorates class {node.name}; a flow must be a function",
            "move the flow logic into a module-level function decorated with @flow",
        )]
    return [
        Finding.warning(
            rel, item.lineno, f"flow method {node.name}.{item.name} is not deployed by deploytasks",
            "define the flow as a module-level function",
        )
        for item in node.body
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _flow_decorator(item, aliases)[0]
    ]


def _functional_flow(
    node: ast.Assign | ast.AnnAssign, aliases: _FlowAliases, defs: Mapping[str, FunctionNode],
    rel: str,
) -> _Candidate | Finding | None:
    """``my_flow = flow(fn)`` or ``flow(name=...)(fn)``; a lambda there is an error."""
    value, targets = node.value, node.targets if isinstance(node, ast.Assign) else [node.target]
    if not isinstance(value, ast.Call) or len(targets) != 1 or not value.args:
        return None
    call = value.func if isinstance(value.func, ast.Call) else None
    if not aliases.is_flow(call.func if call else value.func):
        return None
    wrapped, target = value.args[0], targets[0]
    if isinstance(wrapped, ast.Lambda):
        return Finding.error(
            rel, node.lineno, "flow made from a lambda cannot be deployed",
            "define a named function with def and decorate it with @flow",
        )
    if not isinstance(target, ast.Name) or not isinstance(wrapped, ast.Name):
        return None
    if wrapped.id not in defs:
        return Finding.warning(
            rel, node.lineno, f"flow {target.id} wraps {wrapped.id}, which is not defined here",
            "define the flow function in this file so it can be read without importing",
        )
    return _Candidate(target.id, defs[wrapped.id], call)


def _dedupe(candidates: list[_Candidate], rel: str, findings: list[Finding]) -> list[_Candidate]:
    """One candidate per entrypoint name: ``if``/``else`` branches may define a flow twice."""
    seen: dict[str, _Candidate] = {}
    for candidate in candidates:
        first = seen.setdefault(candidate.function, candidate)
        if first is not candidate:
            findings.append(Finding.warning(
                rel, candidate.node.lineno,
                f"flow {candidate.function} is defined again (first on line {first.node.lineno}); "
                "its metadata is read from the first definition",
                "keep one definition, or make sure both carry the same decorator arguments",
            ))
    return list(seen.values())


# --- assembling specs from the candidates -------------------------------------------

Meta = tuple[dict[str, Any], list[Finding]]


@dataclass(frozen=True)
class _Rules:
    """How a key's flows are chosen: its configuration section, or its entrypoints."""

    key: str
    entrypoint: str | None = None  # the setting when the functions come from entrypoints

    @property
    def setting(self) -> str:
        return self.entrypoint or f"flows.{self.key}.flow"

    @property
    def rule(self) -> str:
        return "entrypoint" if self.entrypoint else "configured"


def _assemble(base: FlowSpec, parsed: list[_ParsedFile], selection: tuple[str, ...],
              rules: _Rules) -> list[FlowSpec]:
    """One spec per flow the key deploys; a flow that cannot be chosen keeps the errors."""
    findings = [finding for item in parsed for finding in item.findings]
    metas = [_metadata(item.path, candidate, _Segments(item.source))
             for item in parsed for candidate in item.candidates]
    candidates = tuple((meta["function"], meta["name"]) for meta, _ in metas)
    several = len(selection) > 1
    base = dataclasses.replace(base, path=parsed[0].path, candidates=candidates, several=several,
                               guessed=selection or parsed[0].guessed or base.guessed)
    imports = tuple(ref for item in parsed for ref in item.imports)
    specs = []
    for chosen, problem, rule, wanted in _choose(metas, parsed, selection, rules):
        if chosen is None:
            specs.append(dataclasses.replace(
                base, imports=imports, guessed=(wanted,) if wanted else base.guessed,
            ).with_findings(findings + ([problem] if problem else [])))
            continue
        meta, meta_findings = chosen
        own = next(item.imports for item in parsed if item.path == meta["path"])
        spec = dataclasses.replace(base, **meta, imports=own, selected_by=rule)
        specs.append(spec.with_findings(findings + meta_findings))
    return specs


Choice = tuple[Meta | None, Finding | None, str | None, str | None]  # meta, problem, rule, wanted


def _choose(metas: list[Meta], parsed: list[_ParsedFile], selection: tuple[str, ...],
            rules: _Rules) -> list[Choice]:
    """The flows to deploy: the configured ones, else the only one, else the entry flow."""
    if not metas:
        return [(None, None, None, wanted) for wanted in selection] or [(None, None, None, None)]
    listed = ", ".join(f"{m['function']} (name {m['name']!r})" for m, _ in metas)
    if selection:
        return [_configured(metas, wanted, listed, parsed[0].path, rules)
                for wanted in selection]
    if len(metas) == 1:
        return [(metas[0], None, "only", None)]
    with_flows = [item for item in parsed if item.candidates]
    entry = with_flows[0].entry if len(with_flows) == 1 else None
    if entry is not None:
        return [(next(m for m in metas if m[0]["function"] == entry[0]), None, entry[1], None)]
    return [(None, Finding.error(
        parsed[0].path, None, f"{len(metas)} flows found and none is selected for deployment: "
        f"{listed}", f"set flows.{rules.key}.flow in {CONFIG_HINT} to the function or flow name "
        "to deploy (a list deploys several), or run the entry flow from the file's "
        "if __name__ == '__main__': block",
    ), None, None)]


def _configured(metas: list[Meta], wanted: str, listed: str, rel: str, rules: _Rules) -> Choice:
    matches = [m for m in metas if wanted in (m[0]["function"], m[0]["name"])]
    if len(matches) == 1:
        return matches[0], None, rules.rule, wanted
    how = "several" if matches else "none"
    if rules.entrypoint:
        return None, Finding.error(
            rel, None, f"entrypoint {rel}:{wanted} (from {rules.entrypoint}) matches {how} of "
            f"the flows here: {listed}", f"name one of the flow functions in {rules.entrypoint}",
        ), None, wanted
    return None, Finding.error(
        rel, None, f"{rules.setting} is {wanted!r}, which matches {how} of the flows here: "
        f"{listed}", f"set {rules.setting} in {CONFIG_HINT} to one function name",
    ), None, wanted


def _metadata(rel: str, candidate: _Candidate, segments: _Segments) -> Meta:
    """Everything Prefect would read off the flow object, taken from the source instead."""
    node, findings = candidate.node, list[Finding]()
    keywords = _decorator_keywords(candidate.call, rel, findings)
    name = keywords.get("name") or node.name.replace("_", "-")
    if not isinstance(name, str):
        findings.append(_bad_literal(rel, node.lineno, "name", "a string"))
        name = node.name.replace("_", "-")
    findings.extend(_name_findings(rel, node.lineno, name))
    meta: dict[str, Any] = {
        "path": rel, "line": node.lineno, "end_line": node.end_lineno or node.lineno,
        "function": candidate.function, "name": name,
        "description": keywords.get("description") or ast.get_docstring(node, clean=True),
        "parameters": _parameters(node.args, segments),
        "is_async": isinstance(node, ast.AsyncFunctionDef),
        "version": _version(keywords.get("version"), rel, node.lineno, findings),
        "tags": _tags(keywords.get("tags"), rel, node.lineno, findings),
    }
    return meta, findings


def _decorator_keywords(call: ast.Call | None, rel: str, findings: list[Finding]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for keyword in call.keywords if call else ():
        if keyword.arg not in ("name", "description", "version", "tags"):
            continue
        try:
            values[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            findings.append(Finding.warning(
                rel, keyword.value.lineno,
                f"{keyword.arg}= is not a literal, so it is read as if it were not given",
                f"write {keyword.arg}= as a literal; deploytasks reads flows without running them",
            ))
    return values


def _bad_literal(rel: str, line: int, what: str, expected: str) -> Finding:
    return Finding.warning(rel, line, f"{what}= should be {expected}; it is ignored",
                           f"write {what}= as {expected}")


def _name_findings(rel: str, line: int, name: str) -> list[Finding]:
    banned = [c for c in BANNED_NAME_CHARACTERS if c in name]
    if not banned:
        return []
    return [Finding.error(
        rel, line, f"flow name {name!r} contains {' '.join(banned)}, which Prefect refuses",
        f"remove {' '.join(BANNED_NAME_CHARACTERS)} from the flow name",
    )]


def _version(value: Any, rel: str, line: int, findings: list[Finding]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    findings.append(_bad_literal(rel, line, "version", "a string"))
    return None


def _tags(value: Any, rel: str, line: int, findings: list[Finding]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set)) and all(isinstance(t, str) for t in value):
        return tuple(sorted(value) if isinstance(value, set) else value)
    findings.append(_bad_literal(rel, line, "tags", "a list of strings"))
    return ()


def _parameters(args: ast.arguments, segments: _Segments) -> tuple[Parameter, ...]:
    """The signature as ``inspect.Parameter`` kinds, with annotation and default as source text."""
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    kinds = ["positional_only"] * len(args.posonlyargs)
    kinds += ["positional_or_keyword"] * len(args.args)
    result = list(zip(positional, kinds, defaults, strict=True))
    if args.vararg:
        result.append((args.vararg, "var_positional", None))
    result += [(arg, "keyword_only", default)
               for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg:
        result.append((args.kwarg, "var_keyword", None))
    return tuple(
        Parameter(arg.arg, kind, segments.text(arg.annotation), segments.text(default))
        for arg, kind, default in result
    )


class _Segments:
    """Expressions' source text as written. ``ast.get_source_segment`` splits the whole file
    on every call; this splits it once, and only when asked."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._lines: list[str] | None = None

    def text(self, node: ast.expr | None) -> str | None:
        """The node's text on its line, or ``ast.unparse`` for multi-line and non-ASCII."""
        if node is None:
            return None
        if node.lineno == node.end_lineno and node.end_col_offset is not None:
            if self._lines is None:
                self._lines = self._source.splitlines()
            line = self._lines[node.lineno - 1]
            if line.isascii():  # offsets count UTF-8 bytes: characters only in ASCII
                return line[node.col_offset:node.end_col_offset]
        return ast.unparse(node)


# --- across flows ------------------------------------------------------------------------


def flag_duplicate_names(specs: list[FlowSpec]) -> list[FlowSpec]:
    """Flag every flow whose name another flow also uses: Prefect would merge them.

    The same entrypoint deployed under two keys (two deployments of one flow) is fine.
    """
    by_name: dict[str, list[FlowSpec]] = {}
    for spec in specs:
        if spec.name:
            by_name.setdefault(spec.name, []).append(spec)
    return [_duplicate(spec, by_name[spec.name]) if spec.name and _clashes(spec, by_name[spec.name])
            else spec for spec in specs]


def _clashes(spec: FlowSpec, same: list[FlowSpec]) -> bool:
    return any(other.entrypoint != spec.entrypoint for other in same)


def _duplicate(spec: FlowSpec, same: list[FlowSpec]) -> FlowSpec:
    others = ", ".join(dict.fromkeys(other.path for other in same
                                     if other.entrypoint != spec.entrypoint))
    return spec.with_findings([Finding.error(
        spec.path, spec.line, f"flow name {spec.name!r} is also used by {others}",
        "give each flow a unique name= in its @flow decorator",
    )])


def function_node(root: Path, spec: FlowSpec) -> FunctionNode | None:
    """The flow function's AST node, re-read from source (for deriving a parameter schema)."""
    if spec.line is None:
        return None
    tree, _ = parse_python(root / spec.path, root)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno == spec.line:
            return node
    return None


# --- reading files safely ------------------------------------------------------------

MAX_SOURCE_BYTES = 1_000_000  # a flow file this large is data, not code; parsing it takes seconds
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist", "venv", "site-packages"})


@dataclass(frozen=True)
class Listing:
    """The names in one folder: files and folders (symlinks followed), sorted."""

    files: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()


def list_folder(folder: Path) -> Listing:
    """One ``scandir`` of a folder; unreadable entries (broken links, loops) are left out."""
    files: list[str] = []
    dirs: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_dir(entry):
                    dirs.append(entry.name)
                elif _is_file(entry):
                    files.append(entry.name)
    except OSError:
        return Listing()
    return Listing(tuple(sorted(files)), tuple(sorted(dirs)))


def is_dir(entry: os.DirEntry[str]) -> bool:
    """``entry.is_dir()`` that answers False for symlink loops instead of raising."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def skipped_dir(entry: os.DirEntry[str], exclude: Sequence[str] = ()) -> bool:
    """Folders that never hold flow code: hidden, caches, builds, virtualenvs, excluded."""
    name = entry.name
    return (
        name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info")
        or any(fnmatchcase(name, pattern) for pattern in exclude)
        or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
    )


def relative(path: Path, root: Path) -> str:
    """``path`` relative to the repository, with forward slashes (absolute when outside).

    Plain string work: ``Path.relative_to`` is a hot spot when a thousand flows are read.
    """
    text, base = os.fspath(path), os.fspath(root)
    if text.startswith(base) and text[len(base):len(base) + 1] in (os.sep, ""):
        return text[len(base) + 1:].replace(os.sep, "/") or "."
    return text


def unsafe_path(path: Path, root: Path) -> tuple[str, str] | None:
    """Why ``path`` must not be read (a symlink out of the repository, a loop), or None."""
    if not os.path.islink(path):
        return None
    rel = relative(path, root)
    try:
        os.stat(path)
    except OSError as error:
        return (f"{rel} is a broken or looping symlink ({error.strerror})",
                "point the symlink at a file inside the repository, or remove it")
    real, base = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, base]) != base:
        return (f"{rel} is a symlink to {real}, outside the repository",
                "copy the file into the repository; deploytasks never reads outside it")
    return None


def read_text(path: Path, root: Path) -> tuple[str | None, Finding | None]:
    """A repository file as UTF-8 text, or the finding that says why it cannot be read."""
    rel = relative(path, root)
    unsafe = unsafe_path(path, root)
    if unsafe:
        return None, Finding.error(rel, None, *unsafe)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_SOURCE_BYTES:
                return None, Finding.error(
                    rel, None, f"{rel} is {size / 1e6:.1f} MB; files over 1 MB are not read",
                    "keep data out of the code: load it from a data file at run time",
                )
            data = handle.read()
    except OSError as error:
        return None, Finding.error(rel, None, f"cannot read {rel}: {error.strerror}",
                                   "check the file's permissions")
    return _decode(data, rel)


def _decode(data: bytes, rel: str) -> tuple[str | None, Finding | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, Finding.error(
            rel, line, f"{rel} is not UTF-8 (byte 0x{data[error.start]:02x} on line {line})",
            "save the file as UTF-8",
        )


def parse_python(path: Path, root: Path) -> tuple[ast.Module | None, Finding | None]:
    """The module's AST (no code runs), or the finding that says why it cannot be parsed."""
    _, tree, problem = parse_source(path, root)
    return tree, problem


def parse_source(path: Path, root: Path, needle: str | None = None
                 ) -> tuple[str, ast.Module | None, Finding | None]:
    """The file's text and AST, or the finding that says why it cannot be parsed.

    With ``needle``, a text without it is not parsed (no AST, no finding): a file that
    never says "flow" cannot define one."""
    text, problem = read_text(path, root)
    if text is None:
        return "", None, problem
    if needle is not None and needle not in text:
        return text, None, None
    rel = relative(path, root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to print
            return text, ast.parse(text, filename=rel), None
    except SyntaxError as error:
        return text, None, Finding.error(
            rel, error.lineno, f"{type(error).__name__}: {error.msg} (line {error.lineno})",
            f"fix the syntax; 'python -m py_compile {rel}' shows the same error without running it",
        )
    except (ValueError, RecursionError, MemoryError) as error:
        return text, None, Finding.error(rel, None, f"cannot parse {rel}: {error}",
                                         "make the file plain Python source")


# --- across processes ----------------------------------------------------------------------

PARALLEL_MIN_ITEMS = 200  # below this, starting processes costs more than it saves
MAX_WORKERS = 4
Item = TypeVar("Item")
Result = TypeVar("Result")


def parallel_map(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """``[function(item) for item in items]``, spread over forked processes when it pays.

    Parsing is CPU-bound (about 0.7 ms per flow file), so a large repository is read on
    every core. Workers are forked: they inherit ``function`` and ``items``, receive only
    indexes and send back only results (nothing else is pickled). Only on Linux, only from
    a single-threaded process (forking one with threads can deadlock);
    ``DEPLOYTASKS_WORKERS=1`` turns it off.
    """
    workers = _workers(len(items))
    if workers < 2:
        return [function(item) for item in items]
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _SHARED
    _SHARED = (function, items)
    gc.freeze()  # keep the collector from touching (and so copying) the parent's pages
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            chunk = max(1, len(items) // (workers * 4))
            return list(pool.map(_call_shared, range(len(items)), chunksize=chunk))
    finally:
        _SHARED = None
        gc.unfreeze()


_SHARED: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _call_shared(index: int) -> Any:
    """In a worker: apply the inherited function to the inherited item at ``index``."""
    assert _SHARED is not None
    function, items = _SHARED
    return function(items[index])


def _workers(count: int) -> int:
    import threading

    wanted = os.environ.get("DEPLOYTASKS_WORKERS", "")
    if count < PARALLEL_MIN_ITEMS or not sys.platform.startswith("linux"):
        return 1
    if threading.active_count() > 1 or multiprocessing_child():
        return 1
    cores = len(os.sched_getaffinity(0))
    return min(int(wanted), cores) if wanted.isdigit() else min(cores, MAX_WORKERS)


def multiprocessing_child() -> bool:
    """True inside a worker process (which must not start workers of its own)."""
    import multiprocessing

    return multiprocessing.parent_process() is not None
