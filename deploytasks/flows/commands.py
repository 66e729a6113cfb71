"""The flows commands as plain functions: Invoke tasks and ``python -m deploytasks.cli`` call them.

Each loads the configuration, runs the core (discovery, then validation), hands
the result to the renderer and returns the exit code: 0 when every flow is
valid, 1 when any is not (or, under ``--strict``, when anything warns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from deploytasks.errors import EXIT_OK, EXIT_PROBLEMS, ConfigError
from deploytasks.flows.discovery import DiscoveryOptions, FlowSpec, discover, discover_targets
from deploytasks.flows.selection import split_flows
from deploytasks.flows.validation import ValidationOptions, validate

if TYPE_CHECKING:  # the core imports discovery_options from here: keep the console out
    from deploytasks.config import ResolvedConfig
    from deploytasks.console import Output
    from deploytasks.flows.layouts import EntrypointOption
    from deploytasks.settings import Entrypoint


def discover_command(
    out: Output, *, flow: str | Sequence[str] | None = None, verbose: bool = False,
    json: bool = False, env: str | None = None, changed_since: str | None = None,
) -> int:
    """List the flows (or those ``--flow`` selects), each with its status; 1 when any is
    invalid."""
    _modes(out, verbose=verbose, json=json)
    config = load_config(env)
    specs = find_flows(config, flow, changed_since)
    _render(out, specs, config, command="discover", strict=False)
    return exit_code(specs, strict=False)


def validate_command(
    out: Output, *, flow: str | Sequence[str] | None = None, verbose: bool = False,
    json: bool = False, strict: bool = False, env: str | None = None,
    changed_since: str | None = None,
) -> int:
    """Validate the flows (or those ``--flow`` selects): structure, dependencies, Docker,
    env files."""
    _modes(out, verbose=verbose, json=json)
    config = load_config(env)
    specs = find_flows(config, flow, changed_since)
    specs = validate(config.root, specs, validation_options(config, (s.folder for s in specs)))
    _render(out, specs, config, command="validate", strict=strict)
    return exit_code(specs, strict=strict)


def exit_code(specs: Iterable[FlowSpec], *, strict: bool) -> int:
    """1 when a flow is invalid, or has warnings under ``--strict``; else 0."""
    specs = list(specs)
    failed = any(not spec.valid or (strict and spec.warnings) for spec in specs)
    return EXIT_PROBLEMS if failed else EXIT_OK


def load_config(env: str | None) -> ResolvedConfig:
    """The merged configuration of ``env`` (DEPLOYMENT_ENV or development when None)."""
    from deploytasks.config import ConfigurationManager

    return ConfigurationManager().load(env=env)


def find_flows(config: ResolvedConfig, flow: str | Sequence[str] | None,
               changed_since: str | None = None) -> list[FlowSpec]:
    """Every flow, or those ``--flow`` selects (``flows.selection``); only changed ones with
    ``changed_since``."""
    from deploytasks.changes import changed_since as changes

    options = discovery_options(config)
    names = split_flows(flow)
    specs = discover_targets(config.root, names, options) if names else \
        discover(config.root, options)
    if changed_since:
        changed = changes(config.root, changed_since, config.settings.discovery.flows_dir)
        specs = [spec for spec in specs if changed.selects_flow(spec)]
    return specs


def discovery_options(config: ResolvedConfig) -> DiscoveryOptions:
    """Where to look, the flows each key deploys, and the repository's shared Dockerfile."""
    from deploytasks.flows.layouts import SourceOptions

    discovery = config.settings.discovery
    selected = {name: item.selected() for name, item in config.settings.flows.items()
                if item.flow}
    also = tuple(SourceOptions(s.flows_dir, s.layout, s.pattern, tuple(s.exclude),
                               f"discovery.also[{index}]")
                 for index, s in enumerate(discovery.also))
    entrypoints = tuple(_entrypoint(entry, index)
                        for index, entry in enumerate(discovery.entries()))
    return DiscoveryOptions(discovery.flows_dir, discovery.pattern, tuple(discovery.exclude),
                            selected, discovery.layout, also, entrypoints,
                            shared_dockerfile(config))


def _entrypoint(entry: Entrypoint, index: int) -> EntrypointOption:
    from deploytasks.flows.layouts import EntrypointOption

    path, function = entry.entrypoint.rsplit(":", 1)
    return EntrypointOption(path, function, entry.name, f"discovery.entrypoints[{index}]")


def shared_dockerfile(config: ResolvedConfig) -> str | None:
    """The Dockerfile of flows without their own: ``docker.dockerfile``, else the root one."""
    configured = config.settings.docker.dockerfile
    if configured:
        if not (config.root / configured).is_file():
            where = config.provenance.get(("docker", "dockerfile"))
            raise ConfigError(f"docker.dockerfile is {configured!r}, which does not exist",
                              where=str(where) if where else "docker.dockerfile",
                              hint="point it at the shared Dockerfile, relative to the "
                                   "repository root, or remove it")
        return configured
    return "Dockerfile" if (config.root / "Dockerfile").is_file() else None


def validation_options(config: ResolvedConfig, folders: Iterable[str]) -> ValidationOptions:
    """Each folder's kinds and required env keys, merged from defaults and its own section."""
    kinds: dict[str, tuple[str, ...]] = {}
    required: dict[str, tuple[str, ...]] = {}
    explicit: set[str] = set()
    for folder in dict.fromkeys(folders):
        settings = config.flow_settings(folder)
        kinds[folder] = tuple(settings.kinds)
        required[folder] = tuple(settings.required_env)
        if ("flows", folder, "kinds") in config.provenance:
            explicit.add(folder)
    return ValidationOptions(kinds, required, frozenset(explicit))


def _modes(out: Output, *, verbose: bool, json: bool) -> None:
    out.verbose = out.verbose or verbose
    out.json_mode = out.json_mode or json


def _render(
    out: Output, specs: list[FlowSpec], config: ResolvedConfig, *, command: str, strict: bool
) -> None:
    from deploytasks.console.flows import plural, show_flows

    discovery = config.settings.discovery
    folders = [f"{source.flows_dir}/" for source in discovery.sources()
               if (config.root / source.flows_dir).is_dir()]
    where = f"{' and '.join(folders)} {'directory' if len(folders) == 1 else 'directories'}" \
        if folders else ""
    if discovery.entrypoints:
        entries = plural(len(discovery.entrypoints), "entrypoint")
        where = f"{where} and {entries}" if where else entries
    show_flows(out, specs, command=command, flows_dir=discovery.flows_dir, strict=strict,
               where=where or None)
