"""One flow file read for its flows: every spelling of Prefect's decorator, and what
Prefect would read off each flow object (name, description, parameters, version, tags),
taken from the source with ``ast`` instead of importing it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from deploytasks.flows.entry import FlowNode, entry_flow
from deploytasks.flows.files import parse_source, relative
from deploytasks.flows.imports import ImportRef, child_blocks, collect_imports, dotted
from deploytasks.flows.model import Finding, Parameter

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]  # noqa: UP007 (runtime alias, py3.10)
PREFECT_FLOW_PATHS = frozenset({"prefect.flow", "prefect.flows.flow", "prefect.main.flow"})
PREFECT_FLOW_MODULES = frozenset({"prefect", "prefect.flows", "prefect.main"})
# Prefect refuses flow names holding any of these (prefect/types/names.py).
BANNED_NAME_CHARACTERS = ("/", "%", "&", ">", "<")
Meta = tuple[dict[str, Any], list[Finding]]

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
        findings.append(_no_flow_finding(rel, aliases))
    entry = None
    if len(candidates) > 1:
        entry = entry_flow(tree, [FlowNode(c.function, c.node, c.call) for c in candidates])
    return ParsedFile(rel, source, tuple(candidates), tuple(collect_imports(tree)),
                       tuple(findings), entry, binds)


def _no_flow_finding(rel: str, aliases: _FlowAliases) -> Finding:
    if aliases.foreign:
        name, module = next(iter(aliases.foreign.items()))
        return Finding.error(
            rel, None, f"no Prefect flow: '{name}' is imported from '{module}', not from prefect",
            "import the decorator with 'from prefect import flow'",
        )
    return Finding.error(
        rel, None, "no @flow-decorated function",
        "decorate the flow function with @flow (from prefect import flow) at module level",
    )


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
            findings.extend(_class_findings(node, aliases, rel))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            found = _functional_flow(node, aliases, defs, rel)
            if isinstance(found, Finding):
                findings.append(found)
            elif found:
                candidates.append(found)
    return _dedupe(candidates, rel, findings), findings


def _flow_decorator(node: ast.AST, aliases: _FlowAliases) -> tuple[bool, ast.Call | None]:
    for decorator in getattr(node, "decorator_list", ()):
        is_flow, call = aliases.decorator(decorator)
        if is_flow:
            return True, call
    return False, None


def _class_findings(node: ast.ClassDef, aliases: _FlowAliases, rel: str) -> list[Finding]:
    if _flow_decorator(node, aliases)[0]:
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
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _flow_decorator(item, aliases)[0]
    ]


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
        return Finding.error(
            rel, node.lineno, "flow made from a lambda cannot be deployed",
            "define a named function with def and decorate it with @flow",
        )
    if not isinstance(target, ast.Name) or not isinstance(wrapped, ast.Name):
        return None
    if wrapped.id not in defs:
        return Finding.warning(
            rel, node.lineno, f"flow {target.id} wraps {wrapped.id}, which is not defined here",
            "define the flow function in this file so it can be read without importing",
        )
    return Candidate(target.id, defs[wrapped.id], call)


def _dedupe(candidates: list[Candidate], rel: str, findings: list[Finding]) -> list[Candidate]:
    """One candidate per entrypoint name: ``if``/``else`` branches may define a flow twice."""
    seen: dict[str, Candidate] = {}
    for candidate in candidates:
        first = seen.setdefault(candidate.function, candidate)
        if first is not candidate:
            findings.append(Finding.warning(
                rel, candidate.node.lineno,
                f"flow {candidate.function} is defined again (first on line {first.node.lineno}); "
                "its metadata is read from the first definition",
                "keep one definition, or make sure both carry the same decorator arguments",
            ))
    return list(seen.values())



def flow_metadata(rel: str, candidate: Candidate, segments: Segments) -> Meta:
    """Everything Prefect would read off the flow object, taken from the source instead."""
    node, findings = candidate.node, list[Finding]()
    keywords = _decorator_keywords(candidate.call, rel, findings)
    name = keywords.get("name") or node.name.replace("_", "-")
    if not isinstance(name, str):
        findings.append(_bad_literal(rel, node.lineno, "name", "a string"))
        name = node.name.replace("_", "-")
    findings.extend(_name_findings(rel, node.lineno, name))
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


def _decorator_keywords(call: ast.Call | None, rel: str, findings: list[Finding]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for keyword in call.keywords if call else ():
        if keyword.arg not in ("name", "description", "version", "tags"):
            continue
        try:
            values[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            findings.append(Finding.warning(
                rel, keyword.value.lineno,
                f"{keyword.arg}= is not a literal, so it is read as if it were not given",
                f"write {keyword.arg}= as a literal; deploytasks reads flows without running them",
            ))
    return values


def _bad_literal(rel: str, line: int, what: str, expected: str) -> Finding:
    return Finding.warning(rel, line, f"{what}= should be {expected}; it is ignored",
                           f"write {what}= as {expected}")


def _name_findings(rel: str, line: int, name: str) -> list[Finding]:
    banned = [c for c in BANNED_NAME_CHARACTERS if c in name]
    if not banned:
        return []
    return [Finding.error(
        rel, line, f"flow name {name!r} contains {' '.join(banned)}, which Prefect refuses",
        f"remove {' '.join(BANNED_NAME_CHARACTERS)} from the flow name",
    )]


def _version(value: Any, rel: str, line: int, findings: list[Finding]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    findings.append(_bad_literal(rel, line, "version", "a string"))
    return None


def _tags(value: Any, rel: str, line: int, findings: list[Finding]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set)) and all(isinstance(t, str) for t in value):
        return tuple(sorted(value) if isinstance(value, set) else value)
    findings.append(_bad_literal(rel, line, "tags", "a list of strings"))
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


