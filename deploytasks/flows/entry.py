"""Which flow of a file is its entry: found by reading the file, never by running it.

When a file defines several flows (a parent and the subflows it calls, a flow and
the flow its hook runs) and the configuration names none, the entry is:

1. the flow the ``if __name__ == "__main__":`` block runs — ``main()``,
   ``asyncio.run(main())``, ``main.serve(...)`` — following plain functions of the
   module it calls (``run()`` that calls the flow); when the block runs several
   flows, the one of them no other flow calls;
2. else the only flow no other flow of the file calls, where a flow "calls" every
   flow its body or its decorator (hooks: ``on_failure=[notify]``) names, directly
   or through the module's plain functions, and a ``@parent.on_completion`` hook is
   called by ``parent``.

Only this file counts: a flow called from another module is not called here.
When neither rule singles out one flow, there is no entry (the caller says so).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from deploytasks.flows.imports import child_blocks, dotted

MAIN_BLOCK = "main-block"
UNCALLED = "uncalled"
HOOK_ATTRIBUTES = frozenset({"on_completion", "on_failure", "on_cancellation", "on_crashed",
                             "on_running"})
MAX_DEPTH = 20  # plain functions followed from a caller; deeper chains are not real


@dataclass(frozen=True)
class FlowNode:
    """One flow of the file: the name its entrypoint uses and the nodes that define it."""

    function: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    call: ast.expr | None = None  # ``flow(...)(fn)`` assignment: the decorator call


def entry_flow(tree: ast.Module, flows: Sequence[FlowNode]) -> tuple[str, str] | None:
    """The entry flow's function and the rule that chose it, or None."""
    names = {flow.function for flow in flows}
    plain = _plain_functions(tree, names)
    called_by = _callers(flows, names, plain)
    run = _reached(_main_blocks(tree), names, plain)
    if run:
        roots = sorted(name for name in run if not called_by[name] & run - {name})
        if len(run) == 1 or len(roots) == 1:
            return (next(iter(run)) if len(run) == 1 else roots[0]), MAIN_BLOCK
    uncalled = [flow.function for flow in flows if not called_by[flow.function] - {flow.function}]
    return (uncalled[0], UNCALLED) if len(uncalled) == 1 else None


def _plain_functions(tree: ast.Module, flows: set[str]) -> dict[str, ast.AST]:
    """Module-level functions that are not flows (and classes): followed from callers."""
    found: dict[str, ast.AST] = {}
    for node in _top_statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                node.name not in flows:
            found.setdefault(node.name, node)
    return found


def _callers(flows: Sequence[FlowNode], names: set[str],
             plain: Mapping[str, ast.AST]) -> dict[str, set[str]]:
    """For each flow, the flows of the file that call it (by body, decorator or hook)."""
    called_by: dict[str, set[str]] = {name: set() for name in names}
    for flow in flows:
        decorators = [d for d in flow.node.decorator_list if not _hook_parent(d, names)]
        parts: list[ast.AST] = [*flow.node.body, *decorators]
        if flow.call is not None:
            parts.append(flow.call)
        for callee in _reached(parts, names, plain):
            called_by[callee].add(flow.function)
        for parent in _hooked_on(flow.node, names):
            called_by[flow.function].add(parent)
    return called_by


def _hooked_on(node: ast.AST, names: set[str]) -> set[str]:
    """``@parent.on_failure`` above a flow: the flow is a hook that ``parent`` runs."""
    found = (_hook_parent(decorator, names) for decorator in getattr(node, "decorator_list", ()))
    return {parent for parent in found if parent}


def _hook_parent(decorator: ast.expr, names: set[str]) -> str | None:
    """``parent`` when ``decorator`` is ``@parent.on_completion`` (or another hook)."""
    path = dotted(decorator.func if isinstance(decorator, ast.Call) else decorator) or ""
    head, _, attribute = path.rpartition(".")
    return head if attribute in HOOK_ATTRIBUTES and head in names else None


def _reached(parts: Iterable[ast.AST], names: set[str], plain: Mapping[str, ast.AST]) -> set[str]:
    """The flows named in ``parts``, directly or through the module's plain functions."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = [(part, 0) for part in parts]
    while pending:
        part, depth = pending.pop()
        for name in _names(part):
            if name in names:
                found.add(name)
            elif name in plain and name not in seen and depth < MAX_DEPTH:
                seen.add(name)
                target = plain[name]
                pending += [(item, depth + 1) for item in getattr(target, "body", ())]
                pending += [(item, depth + 1) for item in getattr(target, "decorator_list", ())]
    return found


def _names(node: ast.AST) -> Iterable[str]:
    for item in ast.walk(node):
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            yield item.id


def _main_blocks(tree: ast.Module) -> list[ast.stmt]:
    """The statements of every ``if __name__ == "__main__":`` block of the module."""
    body: list[ast.stmt] = []
    for node in _top_statements(tree.body):
        if isinstance(node, ast.If) and _is_main_test(node.test):
            body += node.body
    return body


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and
            isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    named = any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
    main = any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides)
    return named and main


def _top_statements(body: Sequence[ast.stmt]) -> Iterable[ast.stmt]:
    """Module-level statements, also inside if/try/with (not inside functions or classes)."""
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for block in child_blocks(node):
            yield from _top_statements(block)
