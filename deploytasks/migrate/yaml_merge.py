"""Add settings to a YAML file by inserting lines: every existing line, comment included, stays.

``merge_text`` walks the additions against the file's data: a key the file lacks is
inserted as new lines at the end of its mapping (with the mapping's indentation), items
are appended to a list, and a key the file already sets keeps the file's value (and is
reported). Only an empty ``{}``, ``[]`` or ``~`` value is replaced. Afterwards the text
is parsed again and must hold exactly the old data plus the additions; anything else is
refused (``MergeError``), so a merge never loses or changes what the user wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

KeyPath = tuple[str, ...]


class MergeError(Exception):
    """The additions cannot be inserted without touching what the file holds."""


@dataclass
class MergeResult:
    """The new text and the additions that were not made because the file sets them."""

    text: str
    kept: list[tuple[KeyPath, Any, Any]] = field(default_factory=list)  # (path, yours, theirs)
    added: list[KeyPath] = field(default_factory=list)


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_block(data: Any) -> str:
    """``data`` as block YAML, keys in their given order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def merge_text(text: str, additions: dict[str, Any],
               extend: frozenset[KeyPath] = frozenset()) -> MergeResult:
    """``text`` with ``additions`` inserted; raises ``MergeError`` if that cannot be done.

    Lists at the paths in ``extend`` get the new items appended; any other list the file
    already sets is kept as it is."""
    original = yaml.safe_load(text) or {}
    if not isinstance(original, dict):
        raise MergeError("the file's top level is not a mapping")
    result = MergeResult(text if text.endswith("\n") or not text else text + "\n")
    for step in list(_steps(original, additions, (), extend)):
        if step[0] == "kept":
            result.kept.append((step[1], step[2], step[3]))
            continue
        result.text = _apply(result.text, step)
        result.added.append(step[1])
    _verify(original, additions, result, extend)
    return result


Step = tuple[Any, ...]  # ("key", path, key, value) | ("items", path, items) | ("kept", …)


def _steps(existing: Any, additions: dict[str, Any], path: KeyPath,
           extend: frozenset[KeyPath]) -> Iterator[Step]:
    for key, value in additions.items():
        here = (*path, key)
        if isinstance(existing, dict) and key in existing and existing[key] == value:
            continue
        if not isinstance(existing, dict) or key not in existing or existing[key] in (None, {},
                                                                                      []):
            yield ("key", path, key, value)
        elif isinstance(existing[key], dict) and isinstance(value, dict):
            yield from _steps(existing[key], value, here, extend)
        elif isinstance(existing[key], list) and isinstance(value, list) and here in extend:
            new = [item for item in value if item not in existing[key]]
            if new:
                yield ("items", here, new)
        elif existing[key] != value:
            yield ("kept", here, existing[key], value)


def _apply(text: str, step: Step) -> str:
    root = yaml.compose(text)
    lines = text.splitlines(keepends=True)
    if step[0] == "items":
        _, path, items = step
        return _append_items(lines, _node_at(root, path), items)
    _, path, key, value = step
    parent = _node_at(root, path) if path else root
    if parent is None:  # an empty file
        return text + dump_block({key: value})
    if not isinstance(parent, yaml.MappingNode):
        raise MergeError(f"{'.'.join(path)} is not a mapping")
    for key_node, value_node in parent.value:
        if key_node.value == key:  # present but empty: replace the empty value
            return _fill_empty(lines, key_node, value_node, value)
    return _insert_key(lines, parent, key, value)


def _node_at(root: yaml.Node | None, path: KeyPath) -> yaml.Node | None:
    node: yaml.Node | None = root
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if k.value == part), None)
    return node


def _insert_key(lines: list[str], mapping: yaml.MappingNode, key: str, value: Any) -> str:
    if mapping.flow_style and mapping.value:
        raise MergeError(f"cannot add '{key}' inside the one-line mapping on line "
                         f"{mapping.start_mark.line + 1}; write it as a block mapping first")
    indent = mapping.value[0][0].start_mark.column if mapping.value else 0
    at = _last_line(mapping) + 1 if mapping.value else len(lines)
    block = _indented(dump_block({key: value}), indent)
    return "".join([*lines[:at], block, *lines[at:]])


def _fill_empty(lines: list[str], key_node: yaml.Node, value_node: yaml.Node, value: Any) -> str:
    line = key_node.start_mark.line
    text = lines[line]
    start, end = value_node.start_mark, value_node.end_mark
    if start.line != line or end.line != line:
        raise MergeError(f"cannot replace the value on line {line + 1}")
    head, tail = text[:start.column].rstrip(), text[end.column:]
    comment = tail.strip()
    lines[line] = head + ("  " + comment if comment else "") + "\n"
    block = _indented(dump_block(value), key_node.start_mark.column + 2)
    return "".join([*lines[:line + 1], block, *lines[line + 1:]])


def _append_items(lines: list[str], sequence: yaml.Node | None, items: list[Any]) -> str:
    if not isinstance(sequence, yaml.SequenceNode) or not sequence.value:
        raise MergeError("cannot append to a list that is not there")
    if sequence.flow_style:  # [a, b] → [a, b, {...}]: JSON is YAML's flow style
        end = sequence.end_mark
        text = lines[end.line]
        added = "".join(f", {json.dumps(item)}" for item in items)
        lines[end.line] = text[:end.column - 1] + added + text[end.column - 1:]
        return "".join(lines)
    first = sequence.value[0].start_mark
    dash = lines[first.line].rfind("-", 0, first.column)
    block = _indented(dump_block(items), dash)
    at = _last_line(sequence) + 1
    return "".join([*lines[:at], block, *lines[at:]])


def _last_line(node: yaml.Node) -> int:
    """The 0-based line where ``node``'s own content ends (not the comments after it)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_line(node.value[-1])
    end = node.end_mark
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _indented(block: str, indent: int) -> str:
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in block.splitlines(True))


def _verify(original: dict[str, Any], additions: dict[str, Any], result: MergeResult,
            extend: frozenset[KeyPath]) -> None:
    expected = _merged(original, additions, (), extend)
    try:
        actual = yaml.safe_load(result.text)
    except yaml.YAMLError as error:
        raise MergeError(f"the merged file would not parse: {error}") from None
    if actual != expected:
        raise MergeError("the merged file would not hold exactly your settings plus the "
                         "imported ones")


def _merged(existing: Any, additions: dict[str, Any], path: KeyPath,
            extend: frozenset[KeyPath]) -> dict[str, Any]:
    result = dict(existing) if isinstance(existing, dict) else {}
    for key, value in additions.items():
        current = result.get(key)
        if current in (None, {}, []) or key not in result:
            result[key] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            result[key] = _merged(current, value, (*path, key), extend)
        elif isinstance(current, list) and isinstance(value, list) and (*path, key) in extend:
            result[key] = current + [item for item in value if item not in current]
    return result
