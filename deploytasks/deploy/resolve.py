"""Turn the repository and the configuration of an environment into deployment specs.

Every valid flow becomes one spec per configured kind. Whatever stops one flow
(an invalid flow, a bad setting, a parameter schema that cannot be read, an
image that was never built) becomes a ``skipped`` finding for that flow only
(``rules.skipped``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deploytasks.changes import changed_since as changed_since_ref
from deploytasks.config import ResolvedConfig
from deploytasks.deploy.gitpin import GitPin, git_pin
from deploytasks.deploy.rules import skipped
from deploytasks.deploy.rules.source import pinned_source
from deploytasks.deploy.schema_cache import SchemaCache
from deploytasks.deploy.specs import (
    DeploymentSpec,
    NameParts,
    SpecInputs,
    build_spec,
    deployment_name,
)
from deploytasks.deploy.version import git_version
from deploytasks.deployment_settings import KINDS, Kind
from deploytasks.envfile import parse_env
from deploytasks.errors import DeployTasksError, ServiceUnavailable, UsageError
from deploytasks.findings import Finding
from deploytasks.flows.commands import discovery_options, validation_options
from deploytasks.flows.discovery import FlowSpec, discover
from deploytasks.flows.files import read_text
from deploytasks.flows.selection import select_named
from deploytasks.flows.validation import validate
from deploytasks.layers import Layer
from deploytasks.paths import relative

ImageLookup = Callable[[ResolvedConfig, FlowSpec], str]


@dataclass
class Resolution:
    """The specs of one environment, what was skipped, and whether --flow narrowed it."""

    config: ResolvedConfig
    flows: list[FlowSpec]
    specs: list[DeploymentSpec] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)  # ``Finding.skipped``
    narrowed: bool = False
    known_names: set[str] = field(default_factory=set)  # of every flow, even invalid
    warnings: list[Finding] = field(default_factory=list)  # shown; they block nothing


def resolve(config: ResolvedConfig, kinds: Sequence[Kind], flows: Sequence[str] = (), *,
            image_for: ImageLookup | None = None, parameters: dict[str, Any] | None = None,
            changed_since: str | None = None) -> Resolution:
    """Specs for every valid flow (or the named ones) and each requested kind.

    Flows are discovered and validated first (the same checks as
    ``flows.validate``); an invalid flow is skipped with its first error.
    """
    found = discover(config.root, discovery_options(config))
    chosen = select_flows(found, flows, config.root)
    if changed_since:
        changes = changed_since_ref(config.root, changed_since, config.settings.discovery.flows_dir)
        chosen = [flow for flow in chosen if changes.selects_flow(flow)]
    chosen = validate(config.root, chosen,
                      validation_options(config, (flow.folder for flow in chosen)))
    resolution = Resolution(config, chosen, narrowed=bool(flows or changed_since),
                            known_names=known_names(config, found))
    version = git_version(config.root)
    extra = Layer("custom parameters", {"parameters": parameters}, scope="cli") \
        if parameters else None
    schemas = SchemaCache(config.root)
    pin = _git_pin(config, kinds)
    for flow in chosen:
        _resolve_flow(resolution, flow, kinds, SpecInputs(
            version=version, commit=pin.commit if pin else None), image_for, extra, schemas)
    if pin is not None:
        _judge_pin(resolution, pin)
    _skip_name_clashes(resolution)
    schemas.save()
    return resolution


def _git_pin(config: ResolvedConfig, kinds: Sequence[Kind]) -> GitPin | None:
    """The commit python deployments clone, when workers clone (``source.git``)."""
    git = config.settings.source.git
    return git_pin(config.root, git) if git is not None and "python" in kinds else None


def _judge_pin(resolution: Resolution, pin: GitPin) -> None:
    """Warnings about the pinned commit; in a protected environment, an unfetchable commit
    skips every python deployment (``rules.source``)."""
    verdict = pinned_source(resolution.config, pin)
    resolution.warnings += verdict.warnings
    if verdict.refusal is None:
        return
    python = [spec for spec in resolution.specs if spec.kind == "python"]
    resolution.specs = [spec for spec in resolution.specs if spec.kind != "python"]
    resolution.skipped += [Finding.skipped(spec.flow_folder, spec.kind, spec.name,
                                           *verdict.refusal) for spec in python]


def known_names(config: ResolvedConfig, found: list[FlowSpec]) -> set[str]:
    """The deployment names every flow of the repository stands for, valid or not:
    only a deployment outside this set is an orphan (a broken flow's are not).

    A flow whose file cannot be read does not say which function it deploys: its names
    are made from every function or flow name it may stand for (the configured ones, or
    the ``def`` names and ``name=`` strings of its file), so none of them looks orphaned.
    """
    names: set[str] = set()
    for flow in found:
        try:
            kinds = config.flow_settings(flow.folder).kinds
        except DeployTasksError:
            kinds = list(KINDS)
        for parts in _name_parts(flow):
            names.update(deployment_name(config, parts, kind) for kind in kinds)
    return names


def _name_parts(flow: FlowSpec) -> list[NameParts]:
    if flow.function:
        return [NameParts.of(flow)]
    parts = [NameParts(flow.folder, several=flow.several)]
    for guess in flow.guessed:
        for function in {guess, guess.replace("-", "_")}:
            for name in {guess, guess.replace("_", "-")}:
                parts.append(NameParts(flow.folder, function, name, flow.several))
    return parts


def select_flows(found: list[FlowSpec], wanted: Sequence[str], root: Path) -> list[FlowSpec]:
    """The flows the ``--flow`` names select (see ``flows.selection``); a name that selects
    nothing is a usage error."""
    if not wanted:
        return found
    chosen, unknown = select_named(root, found, wanted)
    if unknown:
        known = ", ".join(sorted({f.folder for f in found})) or "none"
        raise UsageError(f"no flow named {unknown[0]!r}", where="--flow",
                         hint=f"use a flow's key (folder name, file stem or entrypoint "
                              f"name), flow name, file or entrypoint; known flows: {known}")
    return chosen


def _skip_name_clashes(resolution: Resolution) -> None:
    """Two flows that would get one deployment name: both are skipped, naming each other."""
    clashes = skipped.shared_names(resolution.specs)
    resolution.skipped += clashes
    names = {finding.deployment for finding in clashes}
    resolution.specs = [spec for spec in resolution.specs if spec.name not in names]


def _resolve_flow(resolution: Resolution, flow: FlowSpec, kinds: Sequence[Kind],
                  base: SpecInputs, image_for: ImageLookup | None,
                  extra: Layer | None, schemas: SchemaCache) -> None:
    config = resolution.config
    left_out = skipped.invalid_flow(flow) or \
        skipped.reserved_flow_tag(flow, config.settings.prefect.ownership_tag)
    if left_out:
        resolution.skipped.append(left_out)
        return
    try:
        wanted = [k for k in config.flow_settings(flow.folder).kinds if k in kinds]
        schema = _schema(config.root, flow, schemas)
    except DeployTasksError as error:
        resolution.skipped.append(skipped.not_resolvable(flow, None, None, error))
        return
    for kind in wanted:
        try:
            resolution.specs.append(_spec(config, flow, kind, base, schema, image_for, extra))
        except ServiceUnavailable:
            raise  # the engine or a registry is down: the whole run stops (exit 3)
        except DeployTasksError as error:
            resolution.skipped.append(skipped.not_resolvable(
                flow, kind, deployment_name(config, flow, kind), error))


def _spec(config: ResolvedConfig, flow: FlowSpec, kind: Kind, base: SpecInputs,
          schema: dict[str, Any], image_for: ImageLookup | None,
          extra: Layer | None) -> DeploymentSpec:
    resolved = config.deployment_settings(flow.folder, kind, extra)
    from_defaults = {path[1] for path, origin in resolved.provenance.items()
                     if path[0] == "parameters" and len(path) > 1
                     and origin.scope in ("defaults", "template")}
    image = image_for(config, flow) if (kind == "docker" and image_for) else None
    env_values = read_env_values(config.root / Path(flow.path).parent,
                                 resolved.settings.env_vars, config.root)
    inputs = replace(base, image=image, parameter_schema=schema, env_values=env_values)
    return build_spec(config, flow, kind, resolved.settings, accepted_parameters(flow),
                      inputs, from_defaults)


def accepted_parameters(flow: FlowSpec) -> set[str] | None:
    """Names the flow takes; None when it takes ``**kwargs`` (anything)."""
    if any(p.kind == "var_keyword" for p in flow.parameters):
        return None
    return {p.name for p in flow.parameters if p.kind != "var_positional"}


def _schema(root: Path, flow: FlowSpec, schemas: SchemaCache) -> dict[str, Any]:
    source = (root / flow.path).read_text(encoding="utf-8")
    key = schemas.key(source, str(flow.function))
    cached = schemas.get(key)
    if cached is not None:
        return cached
    from deploytasks.deploy.schema import SchemaError, parameter_schema_with_warnings

    try:
        schema, _warnings = parameter_schema_with_warnings(source, str(flow.function))
    except SchemaError as error:
        raise DeployTasksError(f"parameter schema: {error}", where=flow.path) from None
    schemas.put(key, schema)
    return schema


def read_env_values(folder: Path, names: Sequence[str], root: Path,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Values of the named keys (registered as secrets): from the process environment
    when it has the key (a CI job's secrets, which beat files as environment variables do
    everywhere here), else from the flow's ``.env``, read safely and parsed as the
    env-file rule parses it (``deploytasks.envfile``)."""
    from deploytasks.secrets import register_secret

    if not names:
        return {}
    environ = os.environ if environ is None else environ
    text, _ = read_text(folder / ".env", root) if (folder / ".env").is_file() else (None, None)
    values = parse_env(text, relative(folder / ".env", root)).values(names) if text else {}
    values.update({name: environ[name] for name in names if environ.get(name)})
    for value in values.values():
        register_secret(value)
    return values
