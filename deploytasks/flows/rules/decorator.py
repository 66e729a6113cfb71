"""Rules about the ``@flow`` decorator and what Prefect would read off a flow.

``source`` calls them while it walks a file's statements and ``metadata`` while it reads
a flow's decorator arguments: a flow must be a named module-level function decorated
with Prefect's own ``flow``, and what deploytasks reads without running the file
(``name=``, ``version=``, ``tags=``, ``description=``) must be written as literals.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

from deploytasks.findings import Finding

# Prefect refuses flow names holding any of these (prefect/types/names.py).
BANNED_NAME_CHARACTERS = ("/", "%", "&", ">", "<")


def no_flow(rel: str, foreign: Mapping[str, str]) -> Finding:
    """A file meant to hold a flow that defines none (``foreign``: a ``flow`` imported
    from elsewhere, name → module)."""
    if foreign:
        name, module = next(iter(foreign.items()))
        return Finding.error(
            rel, None, f"no Prefect flow: '{name}' is imported from '{module}', not from prefect",
            "import the decorator with 'from prefect import flow'",
        )
    return Finding.error(
        rel, None, "no @flow-decorated function",
        "decorate the flow function with @flow (from prefect import flow) at module level",
    )


def flow_on_class(rel: str, node: ast.ClassDef,
                  is_flow: Callable[[ast.AST], bool]) -> list[Finding]:
    """``@flow`` on a class is an error; on one of its methods, a flow that is not deployed."""
    if is_flow(node):
        return [Finding.error(
            rel, node.lineno, f"@flow decorates class {node.name}; a flow must be a function",
            "move the flow logic into a module-level function decorated with @flow",
        )]
    return [
        Finding.warning(
            rel, item.lineno, f"flow method {node.name}.{item.name} is not deployed by deploytasks",
            "define the flow as a module-level function",
        )
        for item in node.body
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_flow(item)
    ]


def lambda_flow(rel: str, line: int) -> Finding:
    """``flow(lambda: ...)``: a flow needs a named function."""
    return Finding.error(rel, line, "flow made from a lambda cannot be deployed",
                         "define a named function with def and decorate it with @flow")


def wraps_undefined(rel: str, line: int, flow: str, wrapped: str) -> Finding:
    """``my_flow = flow(fn)`` where ``fn`` is not defined in the file."""
    return Finding.warning(
        rel, line, f"flow {flow} wraps {wrapped}, which is not defined here",
        "define the flow function in this file so it can be read without importing",
    )


def defined_twice(rel: str, line: int, flow: str, first_line: int) -> Finding:
    """A flow defined again (``if``/``else`` branches): its first definition is read."""
    return Finding.warning(
        rel, line, f"flow {flow} is defined again (first on line {first_line}); its metadata "
        "is read from the first definition",
        "keep one definition, or make sure both carry the same decorator arguments",
    )


def not_a_literal(rel: str, line: int, keyword: str) -> Finding:
    """A decorator argument deploytasks reads that is neither a literal nor a constant."""
    return Finding.warning(
        rel, line, f"{keyword}= is not a literal, so it is read as if it were not given",
        f"write {keyword}= as a literal, or as a constant of the file assigned once (NAME = "
        "'etl'; f-strings of such constants work too); deploytasks reads flows without "
        "running them",
    )


def wrong_literal(rel: str, line: int, what: str, expected: str) -> Finding:
    """A decorator argument of the wrong type (``name=`` not a string, ...)."""
    return Finding.warning(rel, line, f"{what}= should be {expected}; it is ignored",
                           f"write {what}= as {expected}")


def banned_name_characters(rel: str, line: int, name: str) -> list[Finding]:
    """A flow name holding characters Prefect refuses."""
    banned = [c for c in BANNED_NAME_CHARACTERS if c in name]
    if not banned:
        return []
    return [Finding.error(
        rel, line, f"flow name {name!r} contains {' '.join(banned)}, which Prefect refuses",
        f"remove {' '.join(BANNED_NAME_CHARACTERS)} from the flow name",
    )]
