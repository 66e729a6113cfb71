"""Find the flows of a repository by reading their source, never by importing it.

Where flows are comes from ``layouts`` (the guide's flow folders, flow files, explicit
entrypoints); each file is read by ``source`` with ``ast``: importing it would run
repository code, which a CI job on an untrusted pull request must never do (and
Prefect's per-file loading is about ten times slower: see ``bench/bench_discovery.py``).
This module lists every key's unit, reads each one (its files: ``flow_files``; the flows
it deploys: ``choice``), spread over processes (``parallel``), and checks the flows
against each other (``rules.structure``). ``--flow`` narrows the result (``selection``).

The result is one ``FlowSpec`` per deployed flow. A key that cannot be deployed is
still a ``FlowSpec`` — with errors — so that one broken flow never hides or breaks
the others.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path

from deploytasks.errors import ConfigError, UsageError
from deploytasks.findings import Finding
from deploytasks.flows.choice import Rules, assemble
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
from deploytasks.flows.flow_files import file_files, folder_files, forget_folders
from deploytasks.flows.imports import ImportRef
from deploytasks.flows.layouts import (
    EntrypointOption,
    SourceOptions,
    Unit,
    entrypoint_units,
    file_units,
    folder_units,
)
from deploytasks.flows.model import FlowFiles, FlowSpec, Parameter
from deploytasks.flows.parallel import collector_paused, parallel_map
from deploytasks.flows.rules import CONFIG_HINT, structure
from deploytasks.flows.rules.structure import duplicate_flow_names as flag_duplicate_names
from deploytasks.flows.selection import select_flows, select_named
from deploytasks.flows.source import BANNED_NAME_CHARACTERS, FunctionNode, read_flow_file

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
    "collector_paused",
    "discover",
    "discover_folder",
    "discover_one",
    "discover_target",
    "discover_targets",
    "flag_duplicate_names",
    "flow_folders",
    "function_node",
    "is_dir",
    "list_folder",
    "parallel_map",
    "parse_python",
    "parse_source",
    "read_text",
    "relative",
    "select_flows",
    "skipped_dir",
    "unsafe_path",
]


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
    forget_folders()  # this run lists each folder once
    units = flow_units(root, options)
    with collector_paused():
        read = parallel_map(partial(read_unit, root, options=options), units)
    return flag_duplicate_names([spec for specs in read for spec in specs])


def discover_one(root: Path, target: str, options: DiscoveryOptions | None = None) -> FlowSpec:
    """The first flow ``target`` names (see ``discover_target``)."""
    return discover_target(root, target, options)[0]


def discover_target(root: Path, target: str,
                    options: DiscoveryOptions | None = None) -> list[FlowSpec]:
    """The flows one ``--flow`` name selects (see ``selection``)."""
    return discover_targets(root, [target], options)


def discover_targets(root: Path, targets: Sequence[str],
                     options: DiscoveryOptions | None = None) -> list[FlowSpec]:
    """The flows the ``--flow`` names select (see ``selection``), each once.

    Every flow is read, so duplicate names are still found; a name that selects nothing
    is a usage error.
    """
    options = options or DiscoveryOptions()
    found, unknown = select_named(root, discover(root, options), targets)
    if not unknown:
        return found
    raise UsageError(
        f"no flow folder or flow file at {unknown[0]!r} in this repository",
        hint=f"pass a flow's key (the folder name under {options.flows_dir}/, the file stem, or "
        f"the entrypoint's name), its flow name, its flow file ({options.flows_dir}/rpa1/"
        f"{options.pattern}) or its entrypoint (path/to/file.py:function)",
    )


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
    return _mark_shared_keys(root, units)


def _mark_shared_keys(root: Path, units: list[Unit]) -> list[Unit]:
    by_key: dict[str, list[Unit]] = {}
    for unit in units:
        by_key.setdefault(unit.key, []).append(unit)
    marked = []
    for unit in units:
        others = [u for u in by_key[unit.key] if u is not unit]
        if others and unit.problem is None:
            unit = dataclasses.replace(unit, problem=structure.shared_key(
                relative(unit.path, root), unit.key, _unit_label(root, unit),
                [_unit_label(root, other) for other in others]))
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
    problem = unit.problem or unsafe_path(folder, root)
    if problem:
        return [base.with_findings([problem])]
    listing = list_folder(folder)
    files = folder_files(root, folder, listing, unit.pattern, options.shared_dockerfile)
    base = dataclasses.replace(base, files=files)
    sources = [name for name in listing.files if fnmatchcase(name, unit.pattern)]
    if not sources:
        return [base.with_findings([structure.no_flow_file(rel, unit.pattern)])]
    if len(sources) == 1:
        parsed = [read_flow_file(root, folder / sources[0])]
    else:  # a pattern such as *.py: files that define no flow are the folder's helpers
        parsed = [p for p in (read_flow_file(root, folder / name, quick=True)
                              for name in sources) if p.is_flow_file] or \
            [read_flow_file(root, folder / sources[0])]
    return assemble(base, parsed, options.selection(unit.key), Rules(unit.key))


def _read_file_unit(root: Path, unit: Unit, options: DiscoveryOptions) -> list[FlowSpec]:
    rel = relative(unit.path, root)
    base = FlowSpec(folder=unit.key, path=rel, directory=relative(unit.path.parent, root),
                    layout=unit.layout, guessed=unit.functions)
    problem = unit.problem or unsafe_path(unit.path, root)
    if problem:
        return [base.with_findings([problem])]
    parsed = read_flow_file(root, unit.path, quick=unit.layout == "files")
    if unit.layout == "files" and not parsed.is_flow_file:
        return []  # a helper module beside the flows
    files = file_files(root, unit.path, parsed, options.shared_dockerfile)
    base = dataclasses.replace(base, files=files)
    if unit.layout == "files":
        return assemble(base, [parsed], options.selection(unit.key), Rules(unit.key))
    findings = structure.flow_set_for_entrypoint(rel, unit.key, unit.setting,
                                                 options.selection(unit.key))
    specs = assemble(base, [parsed], unit.functions, Rules(unit.key, entrypoint=unit.setting))
    return [spec.with_findings(findings) for spec in specs]


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
