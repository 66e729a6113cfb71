"""Rules about a repository's structure: flow keys, the files they stand for, the flow
each key deploys, and flows that clash with each other.

Discovery calls them as it lists units (``layouts``), reads them (``discovery``) and
chooses their flows (``choice``); the last, ``duplicate_flow_names``, looks across every
flow read. A key is the flow's name in configuration, deployments and images, so it
must be usable in all three and unique.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from deploytasks.findings import Finding
from deploytasks.flows.model import FlowSpec
from deploytasks.flows.rules import CONFIG_HINT
from deploytasks.paths import relative

# A flow key (folder, file stem or entrypoint name) goes into deployment and image names.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def unusable_key(file: str, key: str, source: str, setting: str) -> Finding | None:
    """A key derived from a file or folder name that cannot name deployments or images."""
    if KEY_PATTERN.match(key):
        return None
    return Finding.error(
        file, None, f"{source} gives the flow key {key!r}, which cannot name deployments or images",
        f"rename it to letters, digits, '.', '_' and '-', or list it in {setting} with a name:",
    )


def missing_entrypoint_file(root: Path, path: str, setting: str) -> Finding | None:
    """An entrypoint whose file is not in the repository."""
    if (root / path).is_file():
        return None
    return Finding.error(relative(root / path, root), None,
                         f"{path} (from {setting}) does not exist",
                         f"fix the path in {setting}: it is relative to the repository root")


def shared_key(file: str, key: str, label: str, others: Sequence[str]) -> Finding:
    """A key that other units (``others``, by label) give too."""
    return Finding.error(
        file, None, f"flow key {key!r} of {label} is also the key of {', '.join(others)}",
        "keys name configuration sections and deployments, so each must be unique: "
        "rename a file or folder, or give an entrypoint a name: in discovery.entrypoints",
    )


def no_flow_file(rel: str, pattern: str) -> Finding:
    """A flow folder without a file matching the pattern."""
    return Finding.error(
        rel, None, f"no {pattern} in {rel}",
        f"add {pattern} with a @flow function, or add '{Path(rel).name}' to "
        f"discovery.exclude in {CONFIG_HINT} if the folder is not a flow",
    )


def flow_set_for_entrypoint(rel: str, key: str, setting: str,
                            configured: Sequence[str]) -> list[Finding]:
    """``flows.<key>.flow`` set for a key whose entrypoint already names its function."""
    if not configured:
        return []
    return [Finding.error(
        rel, None, f"flows.{key}.flow is set, but {key} comes from {setting}, which names its "
        "function", f"remove flows.{key}.flow from {CONFIG_HINT}",
    )]


def no_flow_selected(rel: str, key: str, count: int, listed: str) -> Finding:
    """Several flows in a file, and neither the configuration nor the file singles one out."""
    return Finding.error(
        rel, None, f"{count} flows found and none is selected for deployment: {listed}",
        f"set flows.{key}.flow in {CONFIG_HINT} to the function or flow name to deploy (a "
        "list deploys several), or run the entry flow from the file's if __name__ == "
        "'__main__': block",
    )


def entrypoint_matches_no_one_flow(rel: str, wanted: str, setting: str, how: str,
                                   listed: str) -> Finding:
    """An entrypoint's function that names none (or several) of the file's flows."""
    return Finding.error(
        rel, None, f"entrypoint {rel}:{wanted} (from {setting}) matches {how} of the flows "
        f"here: {listed}", f"name one of the flow functions in {setting}",
    )


def selection_matches_no_one_flow(rel: str, wanted: str, setting: str, how: str,
                                  listed: str) -> Finding:
    """A configured ``flows.<key>.flow`` that names none (or several) of the file's flows."""
    return Finding.error(
        rel, None, f"{setting} is {wanted!r}, which matches {how} of the flows here: {listed}",
        f"set {setting} in {CONFIG_HINT} to one function name",
    )


def duplicate_flow_names(specs: list[FlowSpec]) -> list[FlowSpec]:
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
