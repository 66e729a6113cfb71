"""Find the flows of a repository by reading their source, never by importing it.

Where flows are comes from ``layouts`` (the guide's flow folders, flow files, explicit
entrypoints); each file is read by ``source`` with ``ast``: importing it would run
repository code, which a CI job on an untrusted pull request must never do (and
Prefect's per-file loading is about ten times slower: see ``bench/bench_discovery.py``).
This module reads every key's files, chooses the flows each key deploys (the
configured ones, the only one, or the file's entry flow: ``entry``), and checks them
against each other.

The result is one ``FlowSpec`` per deployed flow. A key that cannot be deployed is
still a ``FlowSpec`` — with errors — so that one broken flow never hides or breaks
the others.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from deploytasks.errors import ConfigError, UsageError
from deploytasks.flows.files import (
    MAX_SOURCE_BYTES,
    SKIPPED_DIRS,
    Listing,
    is_dir,
    list_folder,
    parse_python,
    parse_source,
    read_text,
    relative,
    skipped_dir,
    unsafe_path,
)
from deploytasks.flows.imports import ImportRef
from deploytasks.flows.layouts import (
    EntrypointOption,
    SourceOptions,
    Unit,
    entrypoint_units,
    file_units,
    folder_units,
)
from deploytasks.flows.model import Finding, FlowFiles, FlowSpec, Parameter
from deploytasks.flows.source import (
    BANNED_NAME_CHARACTERS,
    FunctionNode,
    Meta,
    ParsedFile,
    Segments,
    flow_metadata,
    read_flow_file,
)

__all__ = [
    "BANNED_NAME_CHARACTERS",
    "CONFIG_HINT",
    "MAX_SOURCE_BYTES",
    "SKIPPED_DIRS",
    "DiscoveryOptions",
    "Finding",
    "FlowFiles",
    "FlowSpec",
    "ImportRef",
    "Listing",
    "Parameter",
    "discover",
    "discover_folder",
    "discover_one",
    "discover_target",
    "flow_folders",
    "function_node",
    "is_dir",
    "list_folder",
    "parse_python",
    "parse_source",
    "read_text",
    "relative",
    "select_flows",
    "skipped_dir",
    "unsafe_path",
]

CONFIG_HINT = "config/deployment-config.yaml"
CONFIG_FILE_NAMES = ("deployment.yaml", "deployment.yml", "flow-config.yaml", "flow-config.yml")


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
        parsed = [read_flow_file(root, folder / sources[0])]
    else:  # a pattern such as *.py: files that define no flow are the folder's helpers
        parsed = [p for p in (read_flow_file(root, folder / name, quick=True)
                              for name in sources) if p.is_flow_file] or \
            [read_flow_file(root, folder / sources[0])]
    return _assemble(base, parsed, options.selection(unit.key), _Rules(unit.key))


def _read_file_unit(root: Path, unit: Unit, options: DiscoveryOptions) -> list[FlowSpec]:
    rel = relative(unit.path, root)
    base = FlowSpec(folder=unit.key, path=rel, directory=relative(unit.path.parent, root),
                    layout=unit.layout, guessed=unit.functions)
    problem = unit.problem or unsafe_path(unit.path, root)
    if problem:
        return [base.with_findings([Finding.error(rel, None, *problem)])]
    parsed = read_flow_file(root, unit.path, quick=unit.layout == "files")
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


def _file_unit_files(root: Path, path: Path, parsed: ParsedFile,
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


# --- assembling specs from the candidates -------------------------------------------

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


def _assemble(base: FlowSpec, parsed: list[ParsedFile], selection: tuple[str, ...],
              rules: _Rules) -> list[FlowSpec]:
    """One spec per flow the key deploys; a flow that cannot be chosen keeps the errors."""
    findings = [finding for item in parsed for finding in item.findings]
    metas = [flow_metadata(item.path, candidate, Segments(item.source))
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


def _choose(metas: list[Meta], parsed: list[ParsedFile], selection: tuple[str, ...],
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
