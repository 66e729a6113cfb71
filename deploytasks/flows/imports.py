"""What a flow imports, and where each import would come from — found without importing.

Pure functions over ASTs and text: collecting import statements, parsing a
``requirements.txt``, and deciding whether a module is standard library, one of
the flow's own files, declared (the flow's requirements, then the repository's
dependency files), installed, or part of the repository. Installed modules are
found with ``importlib.util.find_spec`` on the top-level name only: on a dotted
name it would import the parents, running their code.

Import names and distribution names differ (``yaml`` is PyYAML). The installed
packages' metadata (``importlib.metadata.packages_distributions``) maps them
exactly; for a package that is declared but not installed here — the usual case
on a CI runner that validates without installing — the name is guessed from the
import (``yaml`` → ``pyyaml``, ``python-yaml``; ``google.cloud.storage`` →
``google-cloud-storage``), and only the well-known mismatches no rule can guess
come from ``UNINSTALLED_ALIASES``.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from deploytasks.findings import Finding
from deploytasks.secrets import redact

# Import names whose distribution no naming rule finds, for packages that are declared but
# not installed here (installed ones are mapped by their metadata, never by this table).
UNINSTALLED_ALIASES: Mapping[str, tuple[str, ...]] = {
    "PIL": ("pillow",), "cv2": ("opencv-python", "opencv-python-headless"),
    "sklearn": ("scikit-learn",), "skimage": ("scikit-image",), "bs4": ("beautifulsoup4",),
    "attr": ("attrs",), "git": ("gitpython",), "Crypto": ("pycryptodome",),
    "psycopg2": ("psycopg2-binary",), "MySQLdb": ("mysqlclient",), "win32com": ("pywin32",),
    "fitz": ("pymupdf",), "dateutil": ("python-dateutil",), "jwt": ("pyjwt",),
}
DISTRIBUTION_ALIASES = UNINSTALLED_ALIASES  # the old name, kept for scripts that import it
# Options of a requirements file that add no package (pip's own list, short and long forms).
IGNORED_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--pre",
    "--trusted-host", "--prefer-binary", "--no-binary", "--only-binary", "--require-hashes",
    "--use-feature", "-c", "--constraint", "--hash", "--config-settings", "--global-option",
})
_NAME_RE = re.compile(r"[-_.]+")
_TRAILING_OPTIONS_RE = re.compile(r"\s+--?[A-Za-z]")
# A name with plain numeric version clauses; anything else goes to packaging's parser.
_CLAUSE = r"(?:(?:==|!=|<=|>=|<|>)\s*\d+(?:\.\d+)*|~=\s*\d+(?:\.\d+)+)"
_SIMPLE_REQUIREMENT_RE = re.compile(
    rf"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:{_CLAUSE}(?:\s*,\s*{_CLAUSE})*)?\s*\Z"
)


@dataclass(frozen=True)
class ImportRef:
    """One import statement's module, as written in a flow's source."""

    module: str  # dotted, without the leading dots of a relative import
    level: int  # 0 for an absolute import, the number of dots otherwise
    line: int
    optional: bool = False  # inside ``try: ... except ImportError``
    names: tuple[str, ...] = ()  # what ``from module import ...`` takes

    @property
    def top(self) -> str:
        """The top-level module an absolute import needs ("" for a relative one)."""
        return self.module.partition(".")[0] if not self.level else ""


def dotted(expr: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        head = dotted(expr.value)
        return f"{head}.{expr.attr}" if head else None
    return None


_BLOCK_FIELDS: dict[type, tuple[str, ...]] = {
    kind: ("body", "orelse", "finalbody", "handlers", "cases") for kind in (
        ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
        ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
        *(getattr(ast, name) for name in ("TryStar", "Match") if hasattr(ast, name)),
    )
}


def child_blocks(node: ast.AST) -> Iterator[list[ast.stmt]]:
    """The statement lists nested in a statement: bodies, else/finally, handlers, match cases.

    Looked up by type: simple statements (most of a module) hold none and cost one lookup.
    """
    for name in _BLOCK_FIELDS.get(type(node), ()):
        block = getattr(node, name, None)
        if not block:
            continue
        if name in ("handlers", "cases"):
            yield from (item.body for item in block)
        else:
            yield block


def collect_imports(tree: ast.Module) -> list[ImportRef]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``.

    Walks statements only (not expressions): several times faster than ``ast.walk``.
    """
    refs: list[ImportRef] = []
    _collect(tree.body, False, refs)
    return refs


# Statements that hold no statements: most of a module, skipped without a look inside.
_SIMPLE = frozenset({ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Pass,
                     ast.Raise, ast.Break, ast.Continue, ast.Delete, ast.Global, ast.Nonlocal,
                     ast.Assert})


def _collect(body: list[ast.stmt], optional: bool, refs: list[ImportRef]) -> None:
    for node in body:
        if type(node) in _SIMPLE:
            continue
        if isinstance(node, ast.Import):
            refs.extend(ImportRef(alias.name, 0, node.lineno, optional) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            refs.append(ImportRef(node.module or "", node.level, node.lineno, optional, names))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            _collect(node.orelse, optional, refs)
        elif hasattr(node, "handlers"):  # try and try* (3.11's TryStar)
            _collect_try(node, optional, refs)
        else:
            for block in child_blocks(node):
                _collect(block, optional, refs)


def _collect_try(node: Any, optional: bool, refs: list[ImportRef]) -> None:
    """A try body is optional when a handler catches ImportError: the flow runs without it."""
    _collect(node.body, optional or _catches_import_error(node), refs)
    for block in (*(handler.body for handler in node.handlers), node.orelse, node.finalbody):
        _collect(block, optional, refs)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


IMPORT_GUARDS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _catches_import_error(node: ast.AST) -> bool:
    for handler in getattr(node, "handlers", ()):
        caught = handler.type
        if caught is None:
            return True
        types = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any((dotted(t) or "").rpartition(".")[2] in IMPORT_GUARDS for t in types):
            return True
    return False


# --- requirements.txt --------------------------------------------------------------------


@dataclass
class Requirements:
    """What one requirements file lists: canonical names, nested files, problems.

    Shared through the parse cache: read it, never change it.
    """

    names: set[str] = field(default_factory=set)
    includes: list[tuple[int, str]] = field(default_factory=list)  # (line, path of -r FILE)
    problems: list[Finding] = field(default_factory=list)  # no file: the caller knows it


def canonical(name: str) -> str:
    """A distribution name normalised per PEP 503 (``PyYAML`` → ``pyyaml``)."""
    return _NAME_RE.sub("-", name).lower()


@lru_cache(maxsize=256)
def parse_requirements(text: str) -> Requirements:
    """Read pip's requirements format: comments, continuations, options, -r, -e, URLs.

    Cached by content: flows of one repository often share a requirements file's text.
    """
    result = Requirements()
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            _option(number, line, result)
        else:
            _requirement(number, line, result)
    return result


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines without comments, joined across backslash continuations, with first line numbers."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]  # pip joins continued lines without a space
            continue
        joined, pending = (pending + line).strip(), ""
        if joined:
            yield start, joined
    if pending.strip():
        yield start, pending.strip()


def _option(number: int, line: str, result: Requirements) -> None:
    flag, _, value = line.partition("=") if line.startswith("--") else line.partition(" ")
    flag, value = flag.strip(), value.strip()
    if flag.startswith("-r") and flag not in ("-r", "--requirement"):
        flag, value = "-r", flag[2:]  # -rfile
    if flag in ("-r", "--requirement"):
        result.includes.append((number, value))
    elif flag in ("-e", "--editable"):
        egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", value)
        if egg:
            result.names.add(canonical(egg.group(1)))
    elif flag.split()[0] not in IGNORED_OPTIONS:
        result.problems.append(Finding.warning(
            None, number, f"unknown option {flag.split()[0]} on line {number}",
            "remove it, or check it against 'pip install --help'",
        ))


def _requirement(number: int, line: str, result: Requirements) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    line = _TRAILING_OPTIONS_RE.split(line, maxsplit=1)[0]  # drop --hash=... and friends
    simple = _SIMPLE_REQUIREMENT_RE.match(line)
    if simple:  # most lines: "name" or "name>=1.2,<2" — no need for the full PEP 508 parser
        result.names.add(canonical(simple.group(1)))
        return
    name = _name_from_url(line)
    if name is not None:  # a URL or path: its name when it tells one, nothing otherwise
        result.names.update({canonical(name)} if name else set())
        return
    try:
        result.names.add(canonical(Requirement(line).name))
    except InvalidRequirement as error:
        reason = redact(str(error).splitlines()[0])  # the line may hold a URL's token
        result.problems.append(Finding.error(
            None, number, f"line {number} is not a valid requirement: {reason}",
            "write one requirement per line, e.g. 'pandas>=2.0' (see pip's requirements format)",
        ))


def _name_from_url(line: str) -> str | None:
    """The name of a URL or path requirement ("" when it has none), None for a plain one."""
    egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", line)
    if egg:
        return egg.group(1)
    if "@" in line.split("://")[0] or not ("://" in line or line.startswith((".", "/"))):
        return None  # "name @ url" and plain requirements go to packaging
    filename = line.rstrip("/").rsplit("/", 1)[-1]
    if filename.endswith((".whl", ".tar.gz", ".zip")):
        return filename.split("-", 1)[0]
    return ""


# --- where an import comes from --------------------------------------------------------


@dataclass(frozen=True)
class ImportContext:
    """What a flow can import beyond the standard library and the installed packages."""

    local_names: frozenset[str] = frozenset()  # modules and packages of the flow's own files
    repo_names: frozenset[str] = frozenset()  # top-level modules of the repository
    requirements: frozenset[str] = frozenset()  # canonical names the flow's requirements list
    declared: frozenset[str] = frozenset()  # canonical names the repository declares


def resolve(module: str, context: ImportContext) -> str:
    """Where ``import module`` is satisfied: stdlib, local, requirements, declared,
    installed, repository, or missing."""
    top = module.partition(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return "stdlib"
    if top in context.local_names:
        return "local"
    if context.requirements or context.declared:
        candidates = distributions_for(module)
        if candidates & context.requirements:
            return "requirements"
        if candidates & context.declared:
            return "declared"
    if is_installed(top):
        return "installed"
    if top in context.repo_names:
        return "repository"
    return "missing"


@lru_cache(maxsize=4096)
def distributions_for(module: str) -> frozenset[str]:
    """Canonical names of the distributions that may provide ``module`` (dotted)."""
    top = module.partition(".")[0]
    installed = installed_distributions(top)
    parts = module.split(".")
    guesses = {canonical(top), canonical(f"python-{top}"), canonical(f"py{top}"),
               *(canonical("-".join(parts[:end])) for end in range(2, len(parts) + 1))}
    found = installed | guesses if installed else guesses | set(UNINSTALLED_ALIASES.get(top, ()))
    return frozenset(found)


def _guessed_distributions(top: str) -> frozenset[str]:
    return distributions_for(top)


@cache
def is_installed(top: str) -> bool:
    """True when the top-level module is importable here — found, never imported."""
    if "." in top or not top.isidentifier():
        return False
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules without a __spec__
        return top in sys.modules


@lru_cache(maxsize=1)
def _import_to_distributions() -> Mapping[str, list[str]]:
    import importlib.metadata

    return importlib.metadata.packages_distributions()


def installed_distributions(top: str) -> set[str]:
    """Canonical names of the installed distributions that provide ``top`` (yaml → pyyaml)."""
    return {canonical(name) for name in _import_to_distributions().get(top, ())}


@lru_cache(maxsize=1)
def prefect_closure() -> frozenset[str]:
    """Prefect and everything it requires: what any image that runs a flow already holds."""
    import importlib.metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    queue = ["prefect"]
    while queue:
        name = canonical(queue.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        queue += [Requirement(r).name for r in requires if "extra ==" not in r]
    return frozenset(seen)


def missing_from_image(top: str, context: ImportContext) -> bool:
    """True when ``top`` is only installed here: not listed, and not brought by Prefect."""
    if top == "prefect" or top.startswith("prefect_"):
        return False
    if _guessed_distributions(top) & prefect_closure():
        return False  # yaml, httpx, pydantic, ...: no need to map every installed module
    provided = installed_distributions(top)
    declared = context.requirements | context.declared | prefect_closure()
    return bool(provided) and not provided & declared
