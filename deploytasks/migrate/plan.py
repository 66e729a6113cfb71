"""From a read prefect.yaml to the settings added to ``config/deployment-config.yaml``.

Each deployment becomes a flow key: the key of the flow the repository already
discovers at that entrypoint, else a new ``discovery.entrypoints`` entry named after
the deployment (lower case, so image names stay valid; ``-2``… when taken). Its
settings go under ``flows.<key>``; a work pool becomes ``work_pools.<kind>`` when the
configuration names none of its own (deploytasks sends every deployment of a kind to
one pool). The additions are merged into the configuration file by inserting lines
(``yaml_merge``): what the file sets is kept, and reported when the import differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from deploytasks import paths
from deploytasks.config import ResolvedConfig
from deploytasks.errors import ConfigError
from deploytasks.migrate.prefect_yaml import (
    Deployment,
    NotCarried,
    Project,
    map_deployment,
    project_sections,
)
from deploytasks.migrate.yaml_merge import KeyPath, MergeError, MergeResult, merge_text
from deploytasks.yamlfile import YamlError, load_yaml_file, parse_yaml

if TYPE_CHECKING:
    from deploytasks.deployment_settings import Kind
    from deploytasks.flows.discovery import FlowSpec

ENTRYPOINTS: KeyPath = ("discovery", "entrypoints")
POOL_TYPES = {"python": "process", "docker": "docker"}


@dataclass
class ImportPlan:
    """What an import would add, where, and what it leaves behind."""

    project: Project
    config_file: str  # repo-relative
    additions: dict[str, Any]
    merge: MergeResult
    names: dict[str, str] = field(default_factory=dict)  # prefect name → deploytasks name
    notes: list[str] = field(default_factory=list)
    creates: list[str] = field(default_factory=list)  # files a write creates (repo-relative)
    owner: str = ""  # the project the imported deployments belong to

    @property
    def imported(self) -> list[Deployment]:
        return self.project.deployments

    def to_document(self, written: bool) -> dict[str, Any]:
        """The ``--json`` document of ``flows.import``."""
        return {
            "source": self.project.file, "config": self.config_file, "written": written,
            "deployments": [{
                "name": d.name, "key": d.key, "entrypoint": d.entrypoint, "type": d.kind,
                "work_pool": d.pool, "deployment": self.names.get(d.name),
                "new_entrypoint": d.explicit, "settings": d.settings,
            } for d in self.imported],
            "additions": self.additions,
            "kept": [{"setting": ".".join(path), "yours": yours, "imported": theirs}
                     for path, yours, theirs in self.merge.kept],
            "not_carried": [item.to_dict() for item in self.project.not_carried],
            "skipped": [item.to_dict() for item in self.project.skipped],
            "notes": self.notes, "creates": self.creates,
        }


def starter_text(source: Path, root: Path) -> str:
    """The main configuration file an import starts when the repository has none: its
    project named after the prefect.yaml's ``name`` (else the repository folder)."""
    from deploytasks.settings import PROJECT_PATTERN, PROJECT_RULE

    try:
        name = load_yaml_file(source).data.get("name")
    except (YamlError, OSError):
        name = None
    candidates = [_slugged(text)[:63].strip("-._")
                  for text in (name if isinstance(name, str) else "", root.name)]
    project = next((c for c in candidates if PROJECT_PATTERN.match(c)), "flows")
    return ("# deploytasks configuration, started by `invoke flows.import`. Every key:\n"
            "# docs/configuration.md; `invoke env.show` prints each value and its origin.\n"
            "# The project owns what this repository deploys, on a server other\n"
            f"# repositories share too ({PROJECT_RULE}).\n"
            f"project: {project}\n")


def plan_import(config: ResolvedConfig, source: Path, seed: str | None = None) -> ImportPlan:
    """Read ``source`` and compute the merge into the main configuration file (``seed``:
    that file's text when it is not written yet)."""
    root = config.root
    rel = paths.display(source, root)
    try:
        document = load_yaml_file(source)
    except YamlError as error:
        raise ConfigError(error.message, where=f"{rel}:{error.line}" if error.line else rel,
                          hint=error.hint) from None
    except OSError as error:
        raise ConfigError(f"cannot read {rel}: {error.strerror}", where="--from",
                          hint="pass the path of a prefect.yaml") from None
    project = Project(rel)
    base = Path(rel).parent.as_posix() if source.resolve().is_relative_to(root) else "."
    deployments = document.data.get("deployments") or []
    if not isinstance(deployments, list):
        raise ConfigError("deployments: must be a list", where=rel,
                          hint="see Prefect's prefect.yaml reference")
    for index, data in enumerate(deployments):
        mapped = map_deployment(project, data, index, document.lines, root, base)
        if mapped is not None:
            project.deployments.append(mapped)
    project_sections(project, document.data, document.lines, root)
    notes = _assign_keys(config, project)
    additions = _additions(config, project, notes)
    merge = _merge(config, additions, seed)
    plan = ImportPlan(project, paths.display(config.config_path, root), additions, merge,
                      notes=notes, creates=_creates(config) if seed is not None else [],
                      owner=config.settings.project)
    plan.names = _names(config, project)
    return plan


def _creates(config: ResolvedConfig) -> list[str]:
    """The files a started configuration needs: the main file and each environment's."""
    from deploytasks.config import ConfigurationManager

    manager = ConfigurationManager(config.config_path, config.root)
    files = [config.config_path, *(manager.overlay_path(name)
                                   for name in config.settings.environments)]
    return [paths.display(path, config.root) for path in files if not path.is_file()]


def _assign_keys(config: ResolvedConfig, project: Project) -> list[str]:
    """Give each deployment a flow key; reuse the key of a flow already discovered there."""
    discovered = _discovered(config)
    by_entrypoint: dict[str, list[str]] = {}
    shared: dict[str, str] = {}  # entrypoint → a key that deploys it among other flows
    for spec in discovered:
        if spec.entrypoint and spec.several:
            shared[spec.entrypoint] = spec.folder  # its settings are its siblings' too
        elif spec.entrypoint:
            by_entrypoint.setdefault(spec.entrypoint, []).append(spec.folder)
    taken = {spec.folder for spec in discovered} | set(config.settings.flows)
    claimed: set[tuple[str, str]] = set()  # (key, entrypoint): several flows may share a key
    notes = []
    for deployment in project.deployments:
        keys = [k for k in by_entrypoint.get(deployment.entrypoint, [])
                if (k, deployment.entrypoint) not in claimed]
        existing = slug(deployment.name) if slug(deployment.name) in keys else \
            (keys[0] if keys else None)
        if existing:
            deployment.key, deployment.explicit = existing, False
            deployment.settings.pop("kinds", None)  # a flow the repository has keeps its kinds
            notes.append(f"deployment {deployment.name!r} is flow {existing!r}, which the "
                         "repository already has (its kinds stay as configured)")
            claimed.add((existing, deployment.entrypoint))
            continue
        wanted = slug(deployment.name)
        key, number = wanted, 1
        while key in taken or key in {k for k, _ in claimed}:
            number += 1
            key = f"{wanted}-{number}"
        if key != deployment.name:
            notes.append(f"deployment {deployment.name!r} becomes flow key {key!r}")
        deployment.key = key
        claimed.add((key, deployment.entrypoint))
        other = shared.get(deployment.entrypoint)
        if other:
            notes.append(f"{deployment.entrypoint} is also deployed by flow {other!r} "
                         f"(flows.{other}.flow lists several flows, which share one settings "
                         f"section); remove it there if {key!r} replaces it")
    return notes


def _discovered(config: ResolvedConfig) -> list[FlowSpec]:
    from deploytasks.flows.commands import discovery_options
    from deploytasks.flows.discovery import discover

    try:
        return discover(config.root, discovery_options(config))
    except ConfigError:  # no flows directory yet: every deployment gets an entrypoint
        return []


def slug(name: str) -> str:
    """A deployment name as a flow key: lower case letters, digits, '.', '_' and '-'."""
    return _slugged(name) or "deployment"


def _slugged(text: str) -> str:
    """``text`` in lower case letters, digits, '.', '_' and '-' (empty when none is left)."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")


def _additions(config: ResolvedConfig, project: Project, notes: list[str]) -> dict[str, Any]:
    additions: dict[str, Any] = {}
    entries = [{"entrypoint": d.entrypoint, "name": d.key}
               for d in project.deployments if d.explicit]
    if entries:
        additions["discovery"] = {"entrypoints": entries}
    if project.deployments:
        additions["flows"] = {d.key: d.settings for d in project.deployments}
    pools = _pools(config, project, notes)
    if pools:
        additions["work_pools"] = pools
    if project.source:
        additions["source"] = project.source
    return additions


def _pools(config: ResolvedConfig, project: Project, notes: list[str]) -> dict[str, Any]:
    """``work_pools.<kind>`` for the one pool each kind's deployments use, when free to set."""
    result: dict[str, Any] = {}
    for kind in ("python", "docker"):
        used = [d for d in project.deployments if d.kind == kind and d.pool]
        if not used:
            continue
        pool = used[0].pool
        for other in (d for d in used if d.pool != pool):
            project.not_carried.append(NotCarried(
                project.file, None, other.name, "work_pool.name",
                f"work pool {other.pool!r}: deploytasks sends every {kind} deployment to one "
                f"pool (work_pools.{kind}), here {pool!r}"))
        configured = config.settings.work_pools[kind].name
        origin = config.provenance.get(("work_pools", kind, "name"))
        if configured == pool:
            continue
        if origin is None:
            result[kind] = {"name": pool, "type": POOL_TYPES[kind]}
            notes.append(f"{kind} deployments go to work pool {pool!r} "
                         f"({POOL_TYPES[kind]} type assumed)")
        else:
            project.not_carried.append(NotCarried(
                project.file, None, used[0].name, "work_pool.name",
                f"work pool {pool!r}: your configuration sends {kind} deployments to "
                f"{configured!r} ({origin}); change it there to move them all"))
    return result


def _merge(config: ResolvedConfig, additions: dict[str, Any], seed: str | None) -> MergeResult:
    path = config.config_path
    where = paths.display(path, config.root)
    text = path.read_text(encoding="utf-8") if seed is None else seed
    try:
        merged = merge_text(text, additions, frozenset({ENTRYPOINTS}))
    except MergeError as error:
        raise ConfigError(f"cannot merge the import: {error}", where=where,
                          hint="run with --json to see the settings and add them by hand"
                          ) from None
    _validate(merged.text, where)
    return merged


def _validate(text: str, where: str) -> None:
    from pydantic import ValidationError

    from deploytasks.settings import Settings

    try:
        Settings.model_validate(parse_yaml(text).data)
    except (YamlError, ValidationError) as error:
        first = str(error).splitlines()[0:3]
        raise ConfigError(f"the merged configuration would not be valid: {' '.join(first)}",
                          where=where, hint="run with --json to see the settings and fix them "
                          "in prefect.yaml or add them by hand") from None


def _names(config: ResolvedConfig, project: Project) -> dict[str, str]:
    """The deploytasks deployment name each imported deployment gets in this environment."""
    from deploytasks.deploy.specs import NameParts, deployment_name

    return {d.name: deployment_name(config, NameParts(d.key, d.entrypoint.rpartition(":")[2]),
                                    cast("Kind", d.kind))
            for d in project.deployments}


def write_import(plan: ImportPlan, config: ResolvedConfig) -> None:
    """Write the merged configuration (a temporary file, then a rename); a started
    configuration gets its environment files too (empty: the main file's values)."""
    import os
    import tempfile

    path = config.config_path
    for created in plan.creates:
        target = config.root / created
        target.parent.mkdir(parents=True, exist_ok=True)
        if target != path:
            target.write_text(f"# {target.stem}: settings over {plan.config_file} "
                              "(none yet).\n", encoding="utf-8")
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     prefix=".import-", suffix=".yaml") as handle:
        handle.write(plan.merge.text)
    os.replace(handle.name, path)
