"""Module constants a flow's decorator may name, read without running the file.

Real repositories write ``FLOW_NAME = "etl"`` once and then ``@flow(name=FLOW_NAME)``, or
``name=f"{TEAM}-etl"``; Prefect (which imports the file) sees the value. So do we, for the
plain cases only: a name bound exactly once in the whole file, at its top level, to a
literal; f-strings and ``+`` of such values. A name bound anywhere else too (reassigned,
imported, a loop or function variable, ``global``) is not a constant, and the argument is
read as before: as if not given, with a warning (``rules.decorator``).
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

Constants = Mapping[str, Any]
_FORMATTED = (str, int, float, bool)  # what an f-string turns into text the same everywhere


def module_constants(tree: ast.Module) -> dict[str, Any]:
    """The file's top-level names bound once, in the whole file, to a constant value."""
    bindings = Counter(_bound_names(tree))  # ast.walk is iterative: any depth is fine
    values: dict[str, Any] = {}
    for node in tree.body:
        target, value = _single_assignment(node)
        if target is None or value is None or bindings[target] != 1:
            continue
        try:
            values[target] = constant_value(value, values)
        except ValueError:
            continue
    return values


def constant_value(node: ast.expr, constants: Constants) -> Any:
    """The value of a literal, of a constant's name, or of an f-string or ``+`` of those;
    ``ValueError`` for anything else (nothing is run), a sum too deep to follow included."""
    try:
        return _value(node, constants)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _value(node: ast.expr, constants: Constants) -> Any:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.JoinedStr):
        return "".join(_formatted(part, constants) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _value(node.left, constants), _value(node.right, constants)
        if type(left) is not type(right) or not isinstance(left, (str, list, tuple)):
            raise ValueError("only text, lists and tuples are added")
        return left + right
    try:
        return ast.literal_eval(node)
    except (TypeError, SyntaxError, MemoryError) as error:  # RecursionError: the caller
        raise ValueError(str(error)) from None


def _formatted(part: ast.expr, constants: Constants) -> str:
    if isinstance(part, ast.Constant) and isinstance(part.value, str):
        return part.value
    if isinstance(part, ast.FormattedValue) and part.conversion == -1 and part.format_spec is None:
        value = _value(part.value, constants)
        if isinstance(value, _FORMATTED):
            return str(value)
    raise ValueError("an f-string part that is not a plain constant")


def _single_assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """``NAME = value`` or ``NAME: type = value`` at the top level."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _bound_names(tree: ast.Module) -> Iterator[str]:
    """Every binding of a name anywhere in the file (a function's locals too: a
    conservative count, since a ``global`` can make one the module's)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node.id
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((a.asname or a.name).partition(".")[0] for a in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            yield from node.names
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield node.name
        elif isinstance(node, ast.arg):
            yield node.arg
