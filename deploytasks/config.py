"""ConfigurationManager: load, merge and validate the configuration of an environment.

Precedence, lowest first (the README's "Configuration"): deployment template →
defaults of ``deployment-config.yaml`` → per-flow settings → environment overlay →
environment variables → command-line options. Every value remembers where it
came from, so ``env.show`` can say why a setting has the value it has.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from deploytasks import paths
from deploytasks.deployment_settings import KINDS, DeploymentSettings, FlowSettings, Kind
from deploytasks.errors import ConfigError
from deploytasks.layers import DEFAULT_ORIGIN, Layer, Origin, Provenance, merge_layers, set_path
from deploytasks.secrets import mask, redact_value, register_secret, register_url_secret
from deploytasks.settings import (
    PROJECT_RULE,
    RESERVED_TAG_PREFIXES,
    SECRET_PATHS,
    Settings,
    is_reserved_tag,
)
from deploytasks.yamlfile import KeyPath, YamlError, load_yaml_file, parse_yaml

DEFAULT_ENVIRONMENT = "development"

# The guide's environment variables, and the setting each one sets.
ENV_VARIABLES: dict[str, str] = {
    "PREFECT_API_URL": "prefect.api_url",
    "PREFECT_API_KEY": "prefect.api_key",
    "PREFECT_API_AUTH_STRING": "prefect.auth_string",
    "PREFECT_UI_URL": "prefect.ui_url",
    "DOCKER_REGISTRY": "docker.registry",
    "DOCKER_NAMESPACE": "docker.namespace",
    "DOCKER_TAG": "docker.tag",
    "DOCKER_BASE_IMAGE": "docker.base_image",
    "DOCKER_USERNAME": "docker.username",
    "DOCKER_PASSWORD": "docker.password",
}
FLOW_ONLY_KEYS = ("flow", "kinds", "required_env", "python", "docker")


@dataclass(frozen=True)
class Environment:
    """A resolved environment: its full name, the short name used in deployment names."""

    name: str
    short: str
    protected: bool


@dataclass(frozen=True)
class ConfigValue:
    """One leaf of the merged configuration, as ``env.show`` prints it."""

    path: str
    value: Any
    origin: Origin
    secret: bool


@dataclass
class ResolvedDeploymentSettings:
    """The deployment settings of one flow and kind, with the origin of each value."""

    settings: DeploymentSettings
    provenance: Provenance


@dataclass
class ResolvedConfig:
    """The merged, validated configuration of one environment."""

    root: Path
    config_path: Path
    env: Environment
    settings: Settings
    provenance: Provenance
    scopes: list[Layer]
    templates: dict[Kind, Layer]

    def flow_settings(self, flow: str) -> FlowSettings:
        """The merged per-flow settings (which function, which kinds, required env keys)."""
        merged, provenance = merge_layers(self._flow_layers(flow, None))
        return _validate(FlowSettings, merged, provenance, f"flows.{flow}")

    def deployment_settings(self, flow: str, kind: Kind,
                            extra: Layer | None = None) -> ResolvedDeploymentSettings:
        """Template → defaults → flow → environment overlay (→ ``extra``) for one deployment."""
        layers = [self.templates[kind], *self._flow_layers(flow, kind)]
        if extra is not None:
            layers.append(extra)
        merged, provenance = merge_layers([layer.without(*FLOW_ONLY_KEYS) for layer in layers])
        settings = _validate(DeploymentSettings, merged, provenance, f"flows.{flow}")
        return ResolvedDeploymentSettings(settings, provenance)

    def _flow_layers(self, flow: str, kind: Kind | None) -> list[Layer]:
        layers: list[Layer] = []
        for scope in self.scopes:
            for keys, name in ((("defaults",), "defaults"), (("flows", flow), "flow")):
                section = scope.section(*keys, scope=name)
                layers.append(section.without(*KINDS))
                if kind:
                    layers.append(section.section(kind, scope=name))
        return layers

    def values(self) -> list[ConfigValue]:
        """Every leaf setting with its origin; secrets masked."""
        dumped = self.settings.model_dump(mode="json")
        rows: list[ConfigValue] = []
        for path, value in _leaves(dumped, ()):
            secret = path in SECRET_PATHS
            shown = (mask(value) or None) if secret else redact_value(value)
            origin = self.provenance.get(path, DEFAULT_ORIGIN)
            rows.append(ConfigValue(".".join(path), shown, origin, secret))
        return rows


class ConfigurationManager:
    """Loads the configuration files of a repository for any of its environments."""

    def __init__(self, config_path: str | Path | None = None, root: Path | None = None) -> None:
        self.root = (root or paths.repo_root()).resolve()
        self._config_path = config_path

    @property
    def config_path(self) -> Path:
        """The main configuration file: argument, ``DEPLOYMENT_CONFIG_PATH``, or the default."""
        given = self._config_path or os.environ.get("DEPLOYMENT_CONFIG_PATH")
        where = "argument config_path" if self._config_path else "DEPLOYMENT_CONFIG_PATH"
        path = Path(given) if given else paths.CONFIG_FILE
        resolved = (path if path.is_absolute() else self.root / path).resolve()
        if given and not resolved.is_relative_to(self.root):
            raise ConfigError(f"'{given}' points outside the repository {self.root}",
                              where=where, hint="keep configuration inside the repository")
        return resolved

    def load(self, env: str | None = None, overrides: dict[str, Any] | None = None, *,
             profile: bool = False, seed: str | None = None) -> ResolvedConfig:
        """Load, merge and validate the configuration of ``env``; with ``profile``, the
        active Prefect profile connects when nothing else names an API URL. ``seed``: the
        text of a main file not written yet (``flows.import`` starting a configuration);
        a missing environment file is then empty."""
        main = self._read_layer(self.config_path, "main", seed)
        require_project(main)
        base = _validate(Settings, *merge_layers([main]), None)
        environment = resolve_environment(base, env)
        overlay = self._read_layer(self.overlay_path(environment.name), "environment",
                                   None if seed is None else "")
        refuse_project_in(overlay)
        cli = _overrides_layer(overrides or {})
        layers = [main, overlay, _env_layer(), cli]
        merged, provenance = merge_layers(layers)
        settings = _validate(Settings, merged, provenance, None)
        if profile and settings.prefect.api_url is None:
            from deploytasks.prefect_profile import profile_layer

            lowest = profile_layer()
            if lowest is not None:
                merged, provenance = merge_layers([lowest, *layers])
                settings = _validate(Settings, merged, provenance, None)
        _register_secrets(settings)
        templates = {kind: self._template(kind) for kind in KINDS}
        for layer in (main, overlay, *templates.values()):
            refuse_reserved_tags(layer, settings.prefect.ownership_tag)
        return ResolvedConfig(self.root, self.config_path, environment, settings, provenance,
                              [main, overlay, cli], templates)

    def environments(self) -> list[str]:
        """The environment names the configuration knows."""
        main = self._read_layer(self.config_path, "main")
        return list(_validate(Settings, *merge_layers([main]), None).environments)

    def overlay_path(self, name: str) -> Path:
        """The file of environment ``name``'s settings."""
        return self.config_path.parent / "environments" / f"{name}.yaml"

    def _template(self, kind: Kind) -> Layer:
        path = self.config_path.parent / "templates" / f"{kind}_deployment.yaml"
        if not path.is_file():
            return Layer(f"template {kind}", {}, scope="template")
        layer = self._read_layer(path, "template")
        merged, provenance = merge_layers([layer])
        _validate(DeploymentSettings, merged, provenance, None)
        return layer

    def _read_layer(self, path: Path, scope: str, seed: str | None = None) -> Layer:
        shown = paths.display(path, self.root)
        if seed is not None and not path.is_file():
            document = parse_yaml(seed)
            return Layer(shown, document.data, document.lines, scope)
        if not path.is_file():
            hint = ("create it (it may be empty) or choose a known environment"
                    if scope == "environment" else
                    "create it, or point DEPLOYMENT_CONFIG_PATH at the right file")
            raise ConfigError("configuration file not found", where=shown, hint=hint)
        try:
            document = load_yaml_file(path)
        except YamlError as error:
            where = f"{shown}:{error.line}" if error.line else shown
            raise ConfigError(error.message, where=where, hint=error.hint) from None
        return Layer(shown, document.data, document.lines, scope)


def resolve_environment(settings: Settings, requested: str | None) -> Environment:
    """Match a name, short name or alias (any case) to a configured environment."""
    given = requested or os.environ.get("DEPLOYMENT_ENV") or DEFAULT_ENVIRONMENT
    wanted = given.strip().lower()
    for name, info in settings.environments.items():
        if wanted in {name.lower(), info.short_name.lower(), *(a.lower() for a in info.aliases)}:
            return Environment(name, info.short_name, info.protected)
    known = ", ".join(
        f"{name} ({info.short_name})" if info.short_name != name else name
        for name, info in settings.environments.items()
    )
    where = "--env" if requested else ("DEPLOYMENT_ENV" if os.environ.get("DEPLOYMENT_ENV")
                                       else None)
    raise ConfigError(f"unknown environment {given!r}", where=where, hint=f"use one of {known}")


def require_project(main: Layer) -> None:
    """The main file must name the project: it is whose deployments are whose on a shared
    server, so a silent default would let two repositories own each other's."""
    if not main.data.get("project"):
        where = str(main.origin(("project",))) if "project" in main.data else main.source
        raise ConfigError("project: the project name is missing or empty", where=where,
                          hint=f"set 'project: <name>' there ({PROJECT_RULE}); every "
                               "repository sharing a Prefect server needs its own")


def refuse_project_in(overlay: Layer) -> None:
    """One project for every environment: an overlay may not rename it."""
    if "project" in overlay.data:
        raise ConfigError("project can only be set in the main configuration file",
                          where=str(overlay.origin(("project",))),
                          hint="remove it here; the project is the same in every environment")


def refuse_reserved_tags(layer: Layer, ownership_tag: str) -> None:
    """Tags the tool sets itself (env:, type:, project:, the ownership tag) cannot come
    from configuration, in any section of any file."""
    for path, tags in _tag_lists(layer.data, ()):
        for index, tag in enumerate(tags):
            if isinstance(tag, str) and is_reserved_tag(tag, ownership_tag):
                where = layer.origin((*path, str(index)))
                raise ConfigError(
                    f"{'.'.join(path)}: tag '{tag}' is reserved: deploytasks sets "
                    f"{', '.join(p + '…' for p in RESERVED_TAG_PREFIXES)} and "
                    f"'{ownership_tag}' itself", where=str(where),
                    hint="remove it (the environment, type and project tags are added to "
                         "every deployment automatically)")


def _tag_lists(data: Any, path: KeyPath) -> list[tuple[KeyPath, list[Any]]]:
    if not isinstance(data, dict):
        return []
    found: list[tuple[KeyPath, list[Any]]] = []
    for key, value in data.items():
        here = (*path, str(key))
        if key == "tags" and isinstance(value, list):
            found.append((here, value))
        else:
            found.extend(_tag_lists(value, here))
    return found


def _env_layer() -> Layer:
    data: dict[str, Any] = {}
    sources: dict[KeyPath, str] = {}
    for variable, dotted in ENV_VARIABLES.items():
        value = os.environ.get(variable)
        if value:
            set_path(data, dotted, value)
            sources[tuple(dotted.split("."))] = f"environment variable {variable}"
    return Layer("environment variables", data, scope="env", sources=sources)


def _overrides_layer(overrides: dict[str, Any]) -> Layer:
    data: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is not None:
            set_path(data, dotted, value)
    return Layer("command-line option", data, scope="cli")


def _register_secrets(settings: Settings) -> None:
    prefect = settings.prefect
    for secret in (prefect.api_key, prefect.auth_string, settings.docker.password):
        if secret is not None:
            register_secret(secret.get_secret_value())
    for url in (prefect.api_url, prefect.ui_url):
        register_url_secret(url)


def _validate(model: type[Any], data: dict[str, Any], provenance: Provenance | None,
              context: str | None) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _config_error(model, error, provenance or {}, context) from None


def _config_error(model: type[BaseModel], error: ValidationError, provenance: Provenance,
                  context: str | None) -> ConfigError:
    first = error.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    origin = _origin_of(loc, provenance)
    setting = ".".join(filter(None, [context, *loc])) or "(top level)"
    if first["type"] == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        message = f"unknown key '{loc[-1]}' in {'.'.join(loc[:-1]) or 'the top level'}"
        return ConfigError(message, where=str(origin) if origin else setting, hint=hint)
    message = f"{setting}: {first['msg'].removeprefix('Value error, ')}"
    if "input" in first and not isinstance(first["input"], dict | list):
        message += f" (got {first['input']!r})"
    hint = "fix the value there (see config/deployment-config.yaml for the expected shape)"
    return ConfigError(message, where=str(origin) if origin else None, hint=hint)


def _origin_of(loc: KeyPath, provenance: Provenance) -> Origin | None:
    for end in range(len(loc), 0, -1):
        prefix = loc[:end]
        for path, origin in provenance.items():
            if path[:end] == prefix:
                return origin
    return None


def _known_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    current: Any = model
    for part in loc:
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            continue
        current = _model_in(field.annotation)
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    for arg in reversed(getattr(annotation, "__args__", ())):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _leaves(value: Any, path: KeyPath) -> list[tuple[KeyPath, Any]]:
    if isinstance(value, dict) and value:
        rows: list[tuple[KeyPath, Any]] = []
        for key, inner in value.items():
            rows.extend(_leaves(inner, (*path, str(key))))
        return rows
    return [(path, value)]
