"""Read a YAML file into plain data, remembering the line of every key.

Errors name the file and line. Aliases are expanded under a node budget and
nesting is bounded, so a "billion laughs" file or a pathologically deep one
fails fast with a clear message instead of eating the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 50
MERGE_TAG = "tag:yaml.org,2002:merge"

KeyPath = tuple[str, ...]


class YamlError(Exception):
    """A YAML file that cannot be used; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint


@dataclass
class YamlDocument:
    """A parsed file: its mapping and the 1-based line of each key path."""

    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)


def load_yaml_file(path: Path) -> YamlDocument:
    """Parse ``path`` as a YAML mapping (an empty file is an empty mapping)."""
    if path.stat().st_size > MAX_BYTES:
        raise YamlError(f"file is larger than {MAX_BYTES // 1024 // 1024} MiB",
                        hint="configuration files are small; check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(f"not UTF-8 text ({error.reason} at byte {error.start})",
                        hint="save the file as UTF-8") from None
    return parse_yaml(text)


def parse_yaml(text: str) -> YamlDocument:
    """Parse YAML text into a ``YamlDocument``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(f"invalid YAML: {error.problem or error.context}", line,
                        "fix the syntax there: indentation, a missing ':' or an unclosed quote"
                        ) from None
    except yaml.YAMLError as error:
        raise YamlError(f"invalid YAML: {error}") from None
    except RecursionError:
        raise YamlError(f"nested deeper than {MAX_DEPTH} levels",
                        hint="flatten the structure") from None
    if root is None:
        return YamlDocument({})
    if not isinstance(root, yaml.MappingNode):
        raise YamlError("the top level must be a mapping of keys to values",
                        root.start_mark.line + 1)
    converter = _Converter()
    data = converter.convert(root, ())
    return YamlDocument(data, converter.lines)


class _Converter:
    """Turns composed nodes into plain data with a node budget and a depth bound."""

    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.visited = 0
        self._scalars = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise YamlError(f"more than {MAX_NODES} values after expanding aliases",
                            node.start_mark.line + 1,
                            "remove the recursive or repeated aliases (&anchor / *alias)")
        if len(path) > MAX_DEPTH:
            raise YamlError(f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1,
                            "flatten the structure")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, str(i))) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return self._scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise YamlError(f"cannot read the value {node.tag!r}: {problem}",
                            node.start_mark.line + 1,
                            "write a plain value; tags such as !!python/… are not allowed"
                            ) from None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                self._merge_into(result, value_node, path)
                continue
            key = self._key(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(f"duplicate key '{key}' (first at line {seen[key]})", line,
                                "keep one of them")
            seen[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _merge_into(self, result: dict[str, Any], node: yaml.Node, path: KeyPath) -> None:
        """``<<: *anchor``: keys the mapping does not set itself come from the anchor."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            own_lines, self.lines = self.lines, {}
            merged = self.convert(source, path)
            merged_lines, self.lines = self.lines, own_lines
            if not isinstance(merged, dict):
                raise YamlError("'<<' must merge a mapping", node.start_mark.line + 1)
            for key, value in merged.items():
                if key in result:
                    continue
                result[key] = value
                self.lines.update({p: line for p, line in merged_lines.items()
                                   if p[: len(path) + 1] == (*path, key)})

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise YamlError("keys must be plain words, not lists or mappings",
                            node.start_mark.line + 1)
        return str(self._scalar(node))
