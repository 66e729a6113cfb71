"""One flow file read for its flows: every spelling of Prefect's decorator, every form of
flow (decorated functions, ``flow(fn)`` assignments), the imports, and the entry flow when
there are several — with ``ast``, never importing the file.

What each flow carries (name, parameters, ...) is ``metadata``; what is wrong with a
decorator is ``rules.decorator``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from deploytasks.findings import Finding
from deploytasks.flows.constants import module_constants
from deploytasks.flows.entry import FlowNode, entry_flow
from deploytasks.flows.files import parse_source
from deploytasks.flows.imports import ImportRef, child_blocks, collect_imports, dotted
from deploytasks.flows.metadata import READ_KEYWORDS, Meta, Segments, flow_metadata
from deploytasks.flows.rules import decorator
from deploytasks.flows.rules.decorator import BANNED_NAME_CHARACTERS
from deploytasks.paths import relative

__all__ = ["BANNED_NAME_CHARACTERS", "Candidate", "FunctionNode", "Meta", "ParsedFile",
           "Segments", "flow_metadata", "read_flow_file"]

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]  # noqa: UP007 (runtime alias, py3.10)
PREFECT_FLOW_PATHS = frozenset({"prefect.flow", "prefect.flows.flow", "prefect.main.flow"})
PREFECT_FLOW_MODULES = frozenset({"prefect", "prefect.flows", "prefect.main"})


@dataclass(frozen=True)
class Candidate:
    """A flow found in a file: the entrypoint attribute, its function, its decorator call."""

    function: str
    node: FunctionNode
    call: ast.Call | None


@dataclass(frozen=True)
class ParsedFile:
    path: str
    source: str = ""
    candidates: tuple[Candidate, ...] = ()
    imports: tuple[ImportRef, ...] = ()
    findings: tuple[Finding, ...] = ()
    entry: tuple[str, str] | None = None  # (function, rule) when several flows single one out
    binds_flow: bool = False  # imports Prefect's flow decorator
    constants: tuple[tuple[str, Any], ...] = ()  # what a decorator argument may name
    guessed: tuple[str, ...] = ()  # unparsable file: the def names and name= strings in it

    @property
    def is_flow_file(self) -> bool:
        """In the files layout: a file that defines a flow, tries to, or cannot be read."""
        return bool(self.candidates or self.binds_flow or self.findings)


_GUESS_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", re.M)
_GUESS_NAME = re.compile(r"\bname\s*=\s*[\"']([^\"'\n]{1,200})[\"']")


def read_flow_file(root: Path, path: Path, quick: bool = False) -> ParsedFile:
    """Parse one file for its flows. ``quick``: a file whose text never says "flow" cannot
    define one, so it is not parsed at all (a helper module of the files layout)."""
    rel = relative(path, root)
    source, tree, problem = parse_source(path, root, needle="flow" if quick else None)
    if quick and tree is None and problem is None:
        return ParsedFile(rel)
    if tree is None:
        guessed = tuple(dict.fromkeys([*_GUESS_DEF.findall(source),
                                       *_GUESS_NAME.findall(source)]))
        return ParsedFile(rel, findings=(problem,) if problem else (), guessed=guessed)
    aliases = _FlowAliases.of(tree)
    candidates, findings = _find_flows(tree, aliases, rel)
    binds = bool(aliases.names or aliases.foreign)
    if not candidates and not any(f.severity == "error" for f in findings):
        if quick and not binds and not findings:
            return ParsedFile(rel)
        findings.append(decorator.no_flow(rel, aliases.foreign))
    entry = None
    if len(candidates) > 1:
        entry = entry_flow(tree, [FlowNode(c.function, c.node, c.call) for c in candidates])
    constants = tuple(module_constants(tree).items()) if _names_a_value(candidates) else ()
    return ParsedFile(rel, source, tuple(candidates), tuple(collect_imports(tree)),
                       tuple(findings), entry, binds, constants=constants)


def _names_a_value(candidates: Sequence[Candidate]) -> bool:
    """Whether a decorator argument metadata reads is more than a literal (only then are
    the file's constants worth collecting: most files have none)."""
    return any(not isinstance(keyword.value, (ast.Constant, ast.List, ast.Tuple))
               for candidate in candidates if candidate.call
               for keyword in candidate.call.keywords if keyword.arg in READ_KEYWORDS)


@dataclass
class _FlowAliases:
    """The names a module binds to Prefect's ``flow`` decorator, by any import spelling."""

    # from prefect import flow [as f] → {"f"}
    names: set[str] = field(default_factory=set)
    # import prefect [as pf] → {"pf": "prefect"}
    modules: dict[str, str] = field(default_factory=dict)
    # from mylib import flow → {"flow": "mylib"}: a decorator that looks like a flow but is not
    foreign: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, tree: ast.Module) -> _FlowAliases:
        """The aliases bound by the module's import-time imports (also inside if/try)."""
        aliases = cls()
        for node in _module_statements(tree.body):
            if isinstance(node, ast.Import):
                aliases._add_import(node)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                aliases._add_import_from(node)
        return aliases

    def _add_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "prefect" or alias.name.startswith("prefect."):
                if alias.asname:
                    self.modules[alias.asname] = alias.name
                else:
                    self.modules["prefect"] = "prefect"

    def _add_import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            bound = alias.asname or alias.name
            if module in PREFECT_FLOW_MODULES and alias.name in ("flow", "*"):
                self.names.add("flow" if alias.name == "*" else bound)
            elif module == "prefect" and alias.name in ("flows", "main"):
                self.modules[bound] = f"prefect.{alias.name}"
            elif alias.name == "flow":
                self.foreign[bound] = module

    def is_flow(self, expr: ast.expr) -> bool:
        """True when ``expr`` names Prefect's flow decorator."""
        if isinstance(expr, ast.Name):
            return expr.id in self.names
        path = dotted(expr)
        if path is None or "." not in path:
            return False
        head, _, rest = path.partition(".")
        return head in self.modules and f"{self.modules[head]}.{rest}" in PREFECT_FLOW_PATHS

    def decorator(self, expr: ast.expr) -> tuple[bool, ast.Call | None]:
        """Whether ``expr`` is the flow decorator, and its call when written ``@flow(...)``."""
        if isinstance(expr, ast.Call) and self.is_flow(expr.func):
            return True, expr
        return self.is_flow(expr), None


_DEFINITIONS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})


def _module_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import time: the module body and its if/try/with blocks."""
    for node in body:
        yield node
        if type(node) in _DEFINITIONS:
            continue
        for block in child_blocks(node):
            yield from _module_statements(block)


def _find_flows(
    tree: ast.Module, aliases: _FlowAliases, rel: str
) -> tuple[list[Candidate], list[Finding]]:
    defs: dict[str, FunctionNode] = {}
    candidates: list[Candidate] = []
    findings: list[Finding] = []
    for node in _module_statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs.setdefault(node.name, node)
            is_flow, call = _flow_decorator(node, aliases)
            if is_flow:
                candidates.append(Candidate(node.name, node, call))
        elif isinstance(node, ast.ClassDef):
            findings.extend(decorator.flow_on_class(
                rel, node, lambda item: _flow_decorator(item, aliases)[0]))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            found = _functional_flow(node, aliases, defs, rel)
            if isinstance(found, Finding):
                findings.append(found)
            elif found:
                candidates.append(found)
    return _dedupe(candidates, rel, findings), findings


def _flow_decorator(node: ast.AST, aliases: _FlowAliases) -> tuple[bool, ast.Call | None]:
    for expression in getattr(node, "decorator_list", ()):
        is_flow, call = aliases.decorator(expression)
        if is_flow:
            return True, call
    return False, None


def _functional_flow(
    node: ast.Assign | ast.AnnAssign, aliases: _FlowAliases, defs: Mapping[str, FunctionNode],
    rel: str,
) -> Candidate | Finding | None:
    """``my_flow = flow(fn)`` or ``flow(name=...)(fn)``; a lambda there is an error."""
    value, targets = node.value, node.targets if isinstance(node, ast.Assign) else [node.target]
    if not isinstance(value, ast.Call) or len(targets) != 1 or not value.args:
        return None
    call = value.func if isinstance(value.func, ast.Call) else None
    if not aliases.is_flow(call.func if call else value.func):
        return None
    wrapped, target = value.args[0], targets[0]
    if isinstance(wrapped, ast.Lambda):
        return decorator.lambda_flow(rel, node.lineno)
    if not isinstance(target, ast.Name) or not isinstance(wrapped, ast.Name):
        return None
    if wrapped.id not in defs:
        return decorator.wraps_undefined(rel, node.lineno, target.id, wrapped.id)
    return Candidate(target.id, defs[wrapped.id], call)


def _dedupe(candidates: list[Candidate], rel: str, findings: list[Finding]) -> list[Candidate]:
    """One candidate per entrypoint name: ``if``/``else`` branches may define a flow twice."""
    seen: dict[str, Candidate] = {}
    for candidate in candidates:
        first = seen.setdefault(candidate.function, candidate)
        if first is not candidate:
            findings.append(decorator.defined_twice(rel, candidate.node.lineno,
                                                    candidate.function, first.node.lineno))
    return list(seen.values())
