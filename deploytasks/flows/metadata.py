"""What Prefect would read off a flow object, taken from its source instead: name,
description, parameters (kinds, annotations and defaults as written), version, tags.

``source`` finds the flows of a file; this reads each one's ``def`` and decorator call.
Arguments that are neither literals nor the file's constants (``constants``) are read as
if not given (``rules.decorator`` says so).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from deploytasks.findings import Finding
from deploytasks.flows.constants import Constants, constant_value
from deploytasks.flows.model import Parameter
from deploytasks.flows.rules import decorator

if TYPE_CHECKING:
    from deploytasks.flows.source import Candidate

Meta = tuple[dict[str, Any], list[Finding]]
READ_KEYWORDS = ("name", "description", "version", "tags")  # the decorator arguments read


def flow_metadata(rel: str, candidate: Candidate, segments: Segments,
                  constants: Constants | None = None) -> Meta:
    """Everything Prefect would read off the flow object, taken from the source instead
    (decorator arguments may name the file's constants: ``constants``)."""
    node, findings = candidate.node, list[Finding]()
    keywords = _decorator_keywords(candidate.call, rel, findings, constants or {})
    name = keywords.get("name") or node.name.replace("_", "-")
    if not isinstance(name, str):
        findings.append(decorator.wrong_literal(rel, node.lineno, "name", "a string"))
        name = node.name.replace("_", "-")
    findings.extend(decorator.banned_name_characters(rel, node.lineno, name))
    meta: dict[str, Any] = {
        "path": rel, "line": node.lineno, "end_line": node.end_lineno or node.lineno,
        "function": candidate.function, "name": name,
        "description": keywords.get("description") or ast.get_docstring(node, clean=True),
        "parameters": _parameters(node.args, segments),
        "is_async": isinstance(node, ast.AsyncFunctionDef),
        "version": _version(keywords.get("version"), rel, node.lineno, findings),
        "tags": _tags(keywords.get("tags"), rel, node.lineno, findings),
    }
    return meta, findings


def _decorator_keywords(call: ast.Call | None, rel: str, findings: list[Finding],
                        constants: Constants) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for keyword in call.keywords if call else ():
        if keyword.arg not in READ_KEYWORDS:
            continue
        try:
            values[keyword.arg] = constant_value(keyword.value, constants)
        except ValueError:
            findings.append(decorator.not_a_literal(rel, keyword.value.lineno, keyword.arg))
    return values


def _version(value: Any, rel: str, line: int, findings: list[Finding]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    findings.append(decorator.wrong_literal(rel, line, "version", "a string"))
    return None


def _tags(value: Any, rel: str, line: int, findings: list[Finding]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set)) and all(isinstance(t, str) for t in value):
        return tuple(sorted(value) if isinstance(value, set) else value)
    findings.append(decorator.wrong_literal(rel, line, "tags", "a list of strings"))
    return ()


def _parameters(args: ast.arguments, segments: Segments) -> tuple[Parameter, ...]:
    """The signature as ``inspect.Parameter`` kinds, with annotation and default as source text."""
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    kinds = ["positional_only"] * len(args.posonlyargs)
    kinds += ["positional_or_keyword"] * len(args.args)
    result = list(zip(positional, kinds, defaults, strict=True))
    if args.vararg:
        result.append((args.vararg, "var_positional", None))
    result += [(arg, "keyword_only", default)
               for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg:
        result.append((args.kwarg, "var_keyword", None))
    return tuple(
        Parameter(arg.arg, kind, segments.text(arg.annotation), segments.text(default))
        for arg, kind, default in result
    )


class Segments:
    """Expressions' source text as written. ``ast.get_source_segment`` splits the whole file
    on every call; this splits it once, and only when asked."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._lines: list[str] | None = None

    def text(self, node: ast.expr | None) -> str | None:
        """The node's text on its line, or ``ast.unparse`` for multi-line and non-ASCII."""
        if node is None:
            return None
        if node.lineno == node.end_lineno and node.end_col_offset is not None:
            if self._lines is None:
                self._lines = self._source.splitlines()
            line = self._lines[node.lineno - 1]
            if line.isascii():  # offsets count UTF-8 bytes: characters only in ASCII
                return line[node.col_offset:node.end_col_offset]
        return ast.unparse(node)
