"""Deep-merge configuration layers, remembering where every value came from.

Mappings merge key by key; anything else (a scalar, a list) from a later
layer replaces the earlier value whole. That keeps lists such as ``tags``
predictable: the layer that sets them owns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploytasks.yamlfile import KeyPath


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a file and line, a variable, an option, or a default."""

    source: str
    line: int | None = None
    scope: str = ""

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


DEFAULT_ORIGIN = Origin("built-in default")


@dataclass(frozen=True)
class Layer:
    """One source of settings. ``scope`` tells which kind of section it was taken from."""

    source: str
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)
    scope: str = ""
    prefix: KeyPath = ()
    sources: dict[KeyPath, str] = field(default_factory=dict)

    def origin(self, path: KeyPath) -> Origin:
        """The origin of the value at ``path`` inside this layer's data."""
        full = (*self.prefix, *path)
        if full in self.sources:
            return Origin(self.sources[full], None, self.scope)
        for end in range(len(full), 0, -1):
            line = self.lines.get(full[:end])
            if line:
                return Origin(self.source, line, self.scope)
        return Origin(self.source, None, self.scope)

    def section(self, *keys: str, scope: str = "") -> Layer:
        """The sub-mapping at ``keys`` as a layer of its own (empty when absent)."""
        data: Any = self.data
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
        return Layer(self.source, data if isinstance(data, dict) else {}, self.lines,
                     scope or self.scope, (*self.prefix, *keys), self.sources)

    def without(self, *keys: str) -> Layer:
        """This layer without some top-level keys."""
        data = {k: v for k, v in self.data.items() if k not in keys}
        return Layer(self.source, data, self.lines, self.scope, self.prefix, self.sources)


Provenance = dict[KeyPath, Origin]


def merge_layers(layers: list[Layer]) -> tuple[dict[str, Any], Provenance]:
    """Merge layers lowest-precedence first; return the data and the origin of each value
    (a mapping's origin is the last layer that set any of its keys)."""
    merged: dict[str, Any] = {}
    provenance: Provenance = {}
    for layer in layers:
        _merge_into(merged, layer.data, (), layer, provenance)
    return merged, provenance


def _merge_into(target: dict[str, Any], data: dict[str, Any], path: KeyPath,
                layer: Layer, provenance: Provenance) -> None:
    for key, value in data.items():
        here = (*path, str(key))
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            provenance[here] = layer.origin(here)
            _merge_into(target[key], value, here, layer, provenance)
            continue
        _forget(provenance, here)
        target[key] = _copy(value)
        _record(value, here, layer, provenance)


def _record(value: Any, path: KeyPath, layer: Layer, provenance: Provenance) -> None:
    provenance[path] = layer.origin(path)
    if isinstance(value, dict):
        for key, inner in value.items():
            _record(inner, (*path, str(key)), layer, provenance)


def _forget(provenance: Provenance, path: KeyPath) -> None:
    for known in [p for p in provenance if p[: len(path)] == path]:
        del provenance[known]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested mappings, creating the mappings on the way."""
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value
