"""The module scope of a flow file: what each top-level name is bound to, read safely.

``ModuleScope`` parses (and compiles, never runs) the source, records every
top-level binding in source order (imports, assignments, classes, functions,
``if TYPE_CHECKING`` blocks, star imports from trusted modules) and resolves a
name lazily, as code at a given statement would see it at import time: a
trusted import is imported, an assignment is evaluated, a class is rebuilt
(``classes``), anything else becomes an opaque stand-in class whose docstring
says why. It also finds the flow function (``name = flow(fn)`` aliases and
``Class.method`` included) and collects the warnings of one derivation.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import types
from typing import Any, ForwardRef

import prefect
import pydantic

from deploytasks.deploy.schema.allowlists import (
    OPAQUE_MODULE,
    PREFECT,
    PREFECT_MODULES,
    import_or,
    is_safe_module,
)
from deploytasks.deploy.schema.classes import build_class
from deploytasks.deploy.schema.errors import SchemaError, Undefined, Unresolvable, failure_reason
from deploytasks.deploy.schema.evaluator import Evaluator

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
# Names every module has at import time; their values are not known here.
_MODULE_DUNDERS = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__path__"}
)


@dataclasses.dataclass
class _Binding:
    """One top-level statement that binds a name, in source order."""

    index: int
    kind: str  # import, from, relative, assign, class, def, unknown
    node: ast.AST
    value: ast.expr | None = None
    module: str = ""
    attr: str = ""


_MISSING = object()  # "no such attribute" (None is a value)


class ModuleScope:
    """The top-level bindings of the source, resolved lazily and safely."""

    def __init__(self, source: str) -> None:
        try:  # compiling (never running) also catches what only the compiler checks
            self.tree = ast.parse(source)
            compile(self.tree, "<flow source>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            line = getattr(exc, "lineno", None) or 0
            raise SchemaError(f"line {line}: the flow source does not parse: {exc}") from exc
        self.warnings: list[str] = []
        self.bindings: dict[str, list[_Binding]] = {}
        self.type_checking_only: set[str] = set()
        self.star_modules: list[types.ModuleType] = []
        self.star_unknown = False
        self.future_annotations = False
        self.cache: dict[int, Any] = {}
        self.in_progress: dict[int, str] = {}
        self.opaques: dict[str, type] = {}
        self.models: dict[str, type[pydantic.BaseModel]] = {}
        self.lossy: dict[Any, str] = {}  # rebuilt class -> the method it lacks
        self.depth = 0
        for index, stmt in enumerate(self.tree.body):
            self._collect(stmt, index)

    def warn(self, message: str) -> None:
        """Record that the schema may differ from Prefect's here."""
        self.warnings.append(message)

    # -- finding the flow function

    def find_function(self, name: str, before: int | None = None) -> tuple[FuncDef, int]:
        """The function `name` (or `Class.method`) and its top-level index; the
        last definition wins, and `name = flow(fn)` leads to `fn`."""
        head, _, rest = name.partition(".")
        for index, stmt in reversed(list(enumerate(self.tree.body[:before]))):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == name:
                return stmt, index
            if isinstance(stmt, ast.ClassDef) and stmt.name == head and rest:
                method = _find_method(stmt, rest)
                if method is not None:
                    return method, index
            target = _flow_alias_target(stmt, name)
            if target is not None:
                return self.find_function(target, index)
        raise SchemaError(f"line 0: function {name!r} is not defined at the source's top level")

    def check_decorators(self, func: FuncDef) -> None:
        """Warn about decorators that may change the signature Prefect sees."""
        for deco in func.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            try:
                value = Evaluator(self, None).eval_callee(target)
            except Exception:
                value = None
            if value is not prefect.flow and value is not prefect.Flow:
                self.warn(f"line {deco.lineno}: decorator {ast.unparse(target)!r} is not "
                          "prefect's flow; the undecorated signature is used")

    # -- collecting bindings

    def _collect(self, stmt: ast.stmt, index: int) -> None:
        """Record the names `stmt` binds when the module is imported."""
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            self.future_annotations |= any(a.name == "annotations" for a in stmt.names)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                name = alias.asname or alias.name.partition(".")[0]
                module = alias.name if alias.asname else name
                self._bind(name, _Binding(index, "import", stmt, module=module, attr=alias.name))
        elif isinstance(stmt, ast.ImportFrom):
            self._collect_from(stmt, index)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            self._collect_assign(stmt, index)
        elif isinstance(stmt, ast.ClassDef):
            self._bind(stmt.name, _Binding(index, "class", stmt))
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self._bind(stmt.name, _Binding(index, "def", stmt))
        elif isinstance(stmt, ast.If):
            self._collect_if(stmt, index)
        else:
            for name in _bound_names(stmt):
                self._bind(name, _Binding(index, "unknown", stmt))

    def _collect_from(self, stmt: ast.ImportFrom, index: int) -> None:
        """Record `from x import y` bindings; `*` from a safe module is looked up late."""
        kind = "relative" if stmt.level else "from"
        module = "." * stmt.level + (stmt.module or "")
        for alias in stmt.names:
            if alias.name != "*":
                binding = _Binding(index, kind, stmt, module=module, attr=alias.name)
                self._bind(alias.asname or alias.name, binding)
            elif kind == "from" and is_safe_module(module):
                self.star_modules.append(importlib.import_module(module))
            else:
                self.star_unknown = True

    def _collect_assign(self, stmt: ast.Assign | ast.AnnAssign, index: int) -> None:
        """Record `X = value` bindings, and `A, B = 1, 2` element-wise."""
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if stmt.value is None:  # `x: int` binds nothing
            return
        for target in targets:
            if isinstance(target, ast.Name):
                self._bind(target.id, _Binding(index, "assign", stmt, value=stmt.value))
            elif _unpackable(target, stmt.value):
                pairs = zip(target.elts, stmt.value.elts, strict=True)  # type: ignore[attr-defined]
                for sub, value in pairs:
                    if isinstance(sub, ast.Name):
                        self._bind(sub.id, _Binding(index, "assign", stmt, value=value))
            else:
                for name in _bound_names(target):
                    self._bind(name, _Binding(index, "unknown", stmt))

    def _collect_if(self, stmt: ast.If, index: int) -> None:
        """`if TYPE_CHECKING:` binds nothing at runtime; `__main__` blocks do not
        run on import; any other `if` binds conditionally."""
        if _is_main_guard(stmt.test):
            return
        if _is_type_checking(stmt.test):
            for sub in stmt.body:
                self.type_checking_only.update(_bound_names(sub))
            for sub in stmt.orelse:
                self._collect(sub, index)
            return
        for name in _bound_names(stmt):
            self._bind(name, _Binding(index, "unknown", stmt))

    def _bind(self, name: str, binding: _Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)

    # -- looking names up

    def lookup(self, name: str, before: int | None) -> Any:
        """The runtime value of the top-level `name`, as seen by code at
        statement `before` (None: after the whole module ran)."""
        bindings = [b for b in self.bindings.get(name, []) if before is None or b.index < before]
        if bindings:
            return self._resolve(name, bindings[-1])
        for star in self.star_modules:
            if hasattr(star, name) and not name.startswith("_"):
                return getattr(star, name)
        return self._lookup_builtin(name, later=bool(self.bindings.get(name)))

    def _lookup_builtin(self, name: str, later: bool) -> Any:
        """Builtins, module dunders and names the file never binds."""
        if name in _MODULE_DUNDERS:
            return self.opaque(name, f"{name!r}, which is only known at import")
        if name in self.type_checking_only and not later:
            raise Undefined(f"{name!r} is only imported under TYPE_CHECKING")
        if later:
            raise Undefined(f"{name!r} is defined only further down")
        value = getattr(builtins, name, None)
        if isinstance(value, type) and not name.startswith("_"):
            return value
        if value is not None or self.star_unknown:
            return self.opaque(name, f"{name!r}, which is not a plain type")
        raise Undefined(f"{name!r} is not defined")

    def _resolve(self, name: str, binding: _Binding) -> Any:
        """Evaluate one binding once; a binding still being built (a class
        naming itself) is a forward reference."""
        key = id(binding)
        if key in self.cache:
            return self.cache[key]
        if key in self.in_progress:
            if binding.kind == "class":
                return ForwardRef(name)
            raise Unresolvable(f"{name!r} refers to itself")
        self.in_progress[key] = name
        try:
            value = self._value_of(name, binding)
        finally:
            del self.in_progress[key]
        self.cache[key] = value
        return value

    def _value_of(self, name: str, binding: _Binding) -> Any:
        """The value a binding gives its name, or an opaque class saying why not."""
        if binding.kind in ("import", "from"):
            return self._imported(name, binding)
        if binding.kind == "relative":
            return self.opaque(name, f"{name!r}, imported from {binding.module!r} (not read)")
        if binding.kind == "class":
            return build_class(self, binding.node, binding.index)  # type: ignore[arg-type]
        if binding.kind == "def":
            return self.opaque(name, f"{name!r}, a function")
        if binding.kind == "unknown":
            line = getattr(binding.node, "lineno", 0)
            return self.opaque(name, f"{name!r}, which is bound conditionally (line {line})")
        return self._assigned(name, binding)

    def _assigned(self, name: str, binding: _Binding) -> Any:
        """The value of `name = <expr>`, evaluated where it stands."""
        assert binding.value is not None
        try:
            return Evaluator(self, binding.index).eval(binding.value)
        except Exception as exc:
            line = binding.value.lineno
            reason = f"{name!r}, whose value (line {line}) is not evaluated: {failure_reason(exc)}"
            return self.opaque(name, reason)

    def _imported(self, name: str, binding: _Binding) -> Any:
        """A module or attribute from a safe module; otherwise opaque."""
        module = binding.module
        imported = binding.attr if binding.kind == "import" else module
        if imported in PREFECT_MODULES:
            return self._from_prefect(name, binding)
        if not is_safe_module(imported):
            return self.opaque(name, f"{name!r}, imported from {module!r} (not read)")
        if import_or(imported, None) is None:
            return self.opaque(name, f"{name!r}, from {imported!r}, which does not exist")
        if binding.kind == "import":
            return importlib.import_module(module)
        value = getattr(importlib.import_module(module), binding.attr, _MISSING)
        if value is _MISSING and is_safe_module(f"{module}.{binding.attr}"):
            value = import_or(f"{module}.{binding.attr}", _MISSING)
        if value is _MISSING:
            return self.opaque(name, f"{name!r}, which {module!r} does not define")
        return value

    def _from_prefect(self, name: str, binding: _Binding) -> Any:
        """`prefect.flow` and `prefect.Flow`; everything else in prefect is opaque."""
        if binding.kind == "import":
            return PREFECT
        value = getattr(PREFECT, binding.attr, None)
        return value or self.opaque(name, f"{name!r}, imported from {binding.module!r} (not read)")

    def opaque(self, name: str, reason: str) -> type:
        """A stand-in class for a value that is not read: Prefect renders a
        plain class as "any value", as it does the real unknown type."""
        if name not in self.opaques:
            namespace = {"__module__": OPAQUE_MODULE, "__doc__": reason, "__qualname__": name}
            self.opaques[name] = type(name, (), namespace)
        return self.opaques[name]


def _find_method(cls: ast.ClassDef, name: str) -> FuncDef | None:
    """The method `name` defined directly in `cls`, if any."""
    for stmt in reversed(cls.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == name:
            return stmt
    return None


def _flow_alias_target(stmt: ast.stmt, name: str) -> str | None:
    """For `name = flow(fn)`, `flow(...)(fn)` or `other.with_options(...)`,
    the name of the function (or flow) it wraps."""
    if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
        return None
    if not any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
        return None
    call = stmt.value
    if isinstance(call.func, ast.Attribute) and call.func.attr == "with_options":
        inner = call.func.value
        return inner.id if isinstance(inner, ast.Name) else None
    if call.args and isinstance(call.args[0], ast.Name):
        return call.args[0].id
    return None


def _bound_names(stmt: ast.AST) -> set[str]:
    """Every name a (possibly compound) statement may bind."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.partition(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _unpackable(target: ast.expr, value: ast.expr | None) -> bool:
    """`A, B = x, y` with as many values as targets."""
    return (
        isinstance(target, ast.Tuple | ast.List)
        and isinstance(value, ast.Tuple | ast.List)
        and len(target.elts) == len(value.elts)
    )


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _is_main_guard(test: ast.expr) -> bool:
    """`if __name__ == "__main__":`, which does not run on import."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
