"""A flow's parameter schema, derived from its source without importing it.

Prefect registers, for each deployment, the JSON schema of the flow's
parameters (``parameter_openapi_schema``). It gets it by importing the flow
file, which runs the file's code. deploytasks must not run untrusted code, so
this module rebuilds the flow's ``inspect.Signature`` from the ``ast`` and hands
it to Prefect's own generator (``generate_parameter_schema``), so the output is
Prefect's, byte for byte, whenever the rebuilt signature is the real one.

Prefect's own AST path (``parameter_schema_from_entrypoint``) is not used: its
``safe_load_namespace`` imports whatever the file imports (local modules too)
and executes the file's top-level classes, functions and assignments.

Here nothing from the file is executed. Expressions are evaluated by a small
interpreter that only reads names, public attributes and subscripts, does
arithmetic on small values, and calls only an allowlist of constructors
(``Field``, ``datetime``, ``Path``, ``Decimal``...). It never yields a function
(only data, classes from trusted modules and typing constructs), so library
code cannot be made to call one later (as a ``default_factory``, a validator,
an alias generator...). Imports are followed only into trusted modules (stdlib
data types, typing, pydantic; of prefect only ``flow``). Enums, pydantic
models, dataclasses, NamedTuples and TypedDicts defined in the file are rebuilt
from their class bodies (annotations, values, docstring, config, keywords) with
``types.new_class``; methods are not rebuilt, so default *instances* of classes
whose validators, serializers or computed fields would run are left out.

What cannot be resolved becomes a warning, not a guess: a name imported from a
module that is not read (third party, local, relative) becomes an opaque class,
which Prefect renders as "any value" exactly as it renders a plain class; an
annotation that cannot be evaluated at all becomes ``Any`` (what Prefect does
for annotations it cannot use); a default that cannot be evaluated leaves the
parameter optional with no ``default`` in the schema.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import datetime
import decimal
import enum
import fractions
import importlib
import inspect
import ipaddress
import pathlib
import types
import typing
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ForwardRef, Literal

import annotated_types
import prefect
import pydantic
import pydantic.dataclasses
import typing_extensions
from prefect.utilities.callables import generate_parameter_schema, parameter_docstrings

from deploytasks.errors import DeployTasksError

__all__ = ["SchemaError", "parameter_schema_from_source", "parameter_schema_with_warnings"]

_FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
_OPAQUE_MODULE = "deploytasks.deploy.schema.unresolved"
_REBUILT_MODULE = "deploytasks.deploy.schema.rebuilt"
_MAX_SIZE = 100_000  # longest str/bytes/sequence the interpreter will build
_MAX_DEPTH = 40  # deepest nesting of string annotations and class rebuilds

# Modules whose import cannot run code from the flow's repository and whose
# objects may be named in annotations and defaults.
_SAFE_MODULES = frozenset(
    {
        "abc", "annotated_types", "builtins", "collections", "collections.abc", "dataclasses",
        "datetime", "decimal", "enum", "fractions", "ipaddress", "numbers", "pathlib", "re",
        "types", "typing", "typing_extensions", "uuid", "zoneinfo",
    }
)  # fmt: skip
_SAFE_PACKAGES = ("pydantic",)
# Of prefect, only the flow decorator is needed (to recognise it); the rest of
# prefect is not a data library and stays opaque.
_PREFECT_MODULES = frozenset({"prefect", "prefect.flows"})
_PREFECT = types.ModuleType("prefect")
_PREFECT.flow = prefect.flow  # type: ignore[attr-defined]
_PREFECT.Flow = prefect.Flow  # type: ignore[attr-defined]

# Callables the interpreter may call: constructors of plain data, and pydantic's
# declarative helpers. None of them can call back into code from the file.
_SAFE_CALLABLES: frozenset[Any] = frozenset(
    {
        bool, bytes, complex, dict, float, frozenset, int, list, set, str, tuple,
        datetime.date, datetime.datetime, datetime.time, datetime.timedelta, datetime.timezone,
        decimal.Decimal, fractions.Fraction, uuid.UUID, enum.auto,
        pathlib.Path, pathlib.PurePath, pathlib.PosixPath, pathlib.PurePosixPath,
        pathlib.PureWindowsPath, ipaddress.ip_address, ipaddress.ip_network,
        ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network,
        ipaddress.IPv6Network, typing.NewType, typing.TypeVar, typing_extensions.TypeVar,
        dataclasses.field, pydantic.Field, pydantic.ConfigDict, pydantic.AliasChoices,
        pydantic.AliasPath, pydantic.StringConstraints, pydantic.Strict, pydantic.WithJsonSchema,
        pydantic.AllowInfNan, pydantic.conint, pydantic.confloat, pydantic.constr,
        pydantic.conlist, pydantic.conset, pydantic.confrozenset, pydantic.condecimal,
        pydantic.condate, pydantic.conbytes,
    }
)  # fmt: skip
# annotated_types markers the interpreter may build; not Predicate, which
# would call whatever it is given.
_CONSTRAINTS: frozenset[Any] = frozenset(
    {
        annotated_types.Gt, annotated_types.Ge, annotated_types.Lt, annotated_types.Le,
        annotated_types.Interval, annotated_types.MultipleOf, annotated_types.MinLen,
        annotated_types.MaxLen, annotated_types.Len, annotated_types.Timezone,
    }
)  # fmt: skip
_SAFE_CLASSMETHODS = frozenset({"fromisoformat"})  # on date, datetime, time
_CLASS_DECORATORS: frozenset[Any] = frozenset(
    {dataclasses.dataclass, pydantic.dataclasses.dataclass, enum.unique, typing.final}
)
# Callables (other than classes) that may appear as values, e.g. as a base or
# as a `default_factory` that pydantic will call.
_HARMLESS_CALLABLES: frozenset[Any] = _SAFE_CALLABLES | _CLASS_DECORATORS | frozenset(
    {
        typing.NamedTuple, typing.TypedDict, typing_extensions.NamedTuple,
        typing_extensions.TypedDict, prefect.flow, prefect.Flow,
    }
)  # fmt: skip
# Special base classes a rebuilt class may have besides object and other rebuilt
# classes; their class creation hooks are library code, not the file's.
_SPECIAL_BASES: frozenset[Any] = frozenset(
    {
        pydantic.BaseModel, pydantic.RootModel, typing.Generic, typing.NamedTuple,
        typing.TypedDict, typing_extensions.TypedDict, typing_extensions.NamedTuple,
        enum.Enum, enum.IntEnum, getattr(enum, "StrEnum", enum.Enum), enum.Flag, enum.IntFlag,
        str, int, float, bytes, object,
    }
)  # fmt: skip
# Methods that change how pydantic builds a class's schema; a class defining
# one cannot be rebuilt without running it.
_SCHEMA_HOOKS = frozenset(
    {
        "__get_pydantic_core_schema__", "__get_pydantic_json_schema__", "__get_validators__",
        "__modify_schema__", "model_json_schema", "__new__", "_generate_next_value_",
        "__init_subclass__", "__class_getitem__",
    }
)  # fmt: skip
# Decorators of methods that cannot change what an instance holds or dumps,
# and methods that run when an instance is built.
_INERT_DECORATORS = frozenset({"property", "classmethod", "staticmethod", "abstractmethod"})
_INSTANCE_HOOKS = frozenset({"__init__", "__post_init__", "model_post_init", "__setattr__"})
_MODULE_DUNDERS = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__path__"}
)
_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
    ast.BitOr: lambda a, b: a | b,
}
_UNARYOPS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
    ast.Not: lambda a: not a,
    ast.Invert: lambda a: ~a,
}
_SAFE_TYPE_NODES = (
    ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
    ast.BinOp, ast.BitOr, ast.Load,
)  # fmt: skip


class SchemaError(DeployTasksError):
    """The schema cannot be derived at all (bad source, missing function, a
    parameter Prefect itself could not describe); the message names where."""


class _Unresolvable(Exception):
    """An expression this module will not or cannot evaluate safely."""


class _Undefined(_Unresolvable):
    """A name with no binding at runtime: the real evaluation raises NameError."""


@dataclasses.dataclass
class _Binding:
    """One top-level statement that binds a name, in source order."""

    index: int
    kind: str  # import, from, relative, assign, class, def, unknown
    node: ast.AST
    value: ast.expr | None = None
    module: str = ""
    attr: str = ""


@dataclasses.dataclass
class _Annotation:
    """A parameter's annotation as ``fn.__annotations__`` holds it at runtime."""

    value: Any
    raw: str | None  # the annotation string when the runtime value is a string
    failure: str | None = None  # why evaluating the string would raise


# ---------------------------------------------------------------- public API


def parameter_schema_from_source(source: str, function_name: str) -> dict[str, Any]:
    """The parameter_openapi_schema Prefect would register for `function_name` in
    `source` (what ``RunnerDeployment`` sends: ``parameter_schema(flow)`` dumped
    with ``exclude_unset=True``), computed without running `source`."""
    schema, _ = parameter_schema_with_warnings(source, function_name)
    return schema


def parameter_schema_with_warnings(
    source: str, function_name: str
) -> tuple[dict[str, Any], list[str]]:
    """Like `parameter_schema_from_source`, plus one message per place where
    the schema may differ from Prefect's because something was not resolved."""
    module = _Module(source)
    func, index = module.find_function(function_name)
    with warnings.catch_warnings():  # pydantic's own, which Prefect emits too
        warnings.simplefilter("ignore")
        schema = _schema_for(module, func, index)
    return schema, list(dict.fromkeys(module.warnings))


# ------------------------------------------------------------ the signature


def _schema_for(module: _Module, func: _FuncDef, index: int) -> dict[str, Any]:
    """Prefect's schema for the rebuilt signature, minus defaults we could not read."""
    module.check_decorators(func)
    signature, unknown_defaults = _signature(module, func, index)
    docstrings = parameter_docstrings(ast.get_docstring(func))
    try:
        model = generate_parameter_schema(signature, docstrings)
    except Exception as exc:  # Prefect itself would fail on this signature
        raise _culprit(signature, docstrings, func, exc) from exc
    schema = model.model_dump(exclude_unset=True)
    for name in unknown_defaults:
        schema["properties"].get(name, {}).pop("default", None)
    return schema


def _culprit(
    signature: inspect.Signature, docstrings: dict[str, str], func: _FuncDef, exc: Exception
) -> SchemaError:
    """A SchemaError naming the first parameter Prefect cannot describe."""
    args = _arguments(func)
    for param in signature.parameters.values():
        try:
            generate_parameter_schema(signature.replace(parameters=[param]), docstrings)
        except Exception as param_exc:
            line = next((a.lineno for a, _, _ in args if a.arg == param.name), func.lineno)
            return SchemaError(f"line {line}: parameter {param.name!r}: {param_exc}")
    return SchemaError(f"line {func.lineno}: function {func.name!r}: {exc}")


_Argument = tuple[ast.arg, inspect._ParameterKind, "ast.expr | None"]


def _arguments(func: _FuncDef) -> list[_Argument]:
    """The parameters in signature order, each with its kind and default node
    (defaults belong to the last positional parameters, position-only included)."""
    spec, kind = func.args, inspect.Parameter
    positional = spec.posonlyargs + spec.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(spec.defaults))
    defaults += spec.defaults
    kinds: list[inspect._ParameterKind] = [kind.POSITIONAL_ONLY] * len(spec.posonlyargs)
    kinds += [kind.POSITIONAL_OR_KEYWORD] * len(spec.args)
    result: list[_Argument] = list(zip(positional, kinds, defaults, strict=True))
    if spec.vararg:
        result.append((spec.vararg, kind.VAR_POSITIONAL, None))
    kw_only = zip(spec.kwonlyargs, spec.kw_defaults, strict=True)
    result += [(arg, kind.KEYWORD_ONLY, default) for arg, default in kw_only]
    if spec.kwarg:
        result.append((spec.kwarg, kind.VAR_KEYWORD, None))
    return result


def _signature(
    module: _Module, func: _FuncDef, index: int
) -> tuple[inspect.Signature, list[str]]:
    """The signature ``inspect.signature(flow, eval_str=True)`` would return,
    with the names of parameters whose default could not be evaluated."""
    args = _arguments(func)
    annotations = {a.arg: _annotation(module, a.annotation, index) for a, _, _ in args}
    returns = _annotation(module, func.returns, index)
    failures = [a.failure for a in [*annotations.values(), returns] if a.failure]
    parameters, unknown = [], []
    for arg, kind, default_node in args:
        where = f"line {arg.lineno}: parameter {arg.arg!r}"
        annotation = _final_annotation(module, annotations[arg.arg], bool(failures), where)
        default = _default(module, default_node, index, where)
        if default is _UNKNOWN:
            unknown.append(arg.arg)
            default = None
        parameters.append(inspect.Parameter(arg.arg, kind, default=default, annotation=annotation))
    if failures:
        module.warn(f"line {func.lineno}: {failures[0]}; "
                    "Prefect then keeps string annotations unevaluated")
    return inspect.Signature(parameters), unknown


_UNKNOWN = object()


def _default(module: _Module, node: ast.expr | None, index: int, where: str) -> Any:
    """The evaluated default, `inspect.Parameter.empty`, or `_UNKNOWN`."""
    if node is None:
        return inspect.Parameter.empty
    try:
        value = _Evaluator(module, index).eval(node)
    except Exception as exc:
        text = ast.unparse(node)
        module.warn(f"{where}: default {text!r} not evaluated ({_reason(exc)}); left out")
        return _UNKNOWN
    reasons = _opaque_reasons(value) + _lossy_reasons(module, value)
    if reasons:
        module.warn(f"{where}: default {ast.unparse(node)!r} uses {reasons[0]}; left out")
        return _UNKNOWN
    return value


def _lossy_reasons(module: _Module, value: Any) -> list[str]:
    """For instances in `value` of classes whose construction or dump runs a
    method that was not rebuilt: the reason, as their dump may differ."""
    return [
        f"an instance of {type(part).__name__!r}, whose {module.lossy[type(part)]} is not run"
        for part in _instances(value)
        if type(part) in module.lossy
    ]


def _instances(value: Any, depth: int = 0) -> Iterator[Any]:
    """`value` and the objects it holds: container items, model fields."""
    yield value
    if depth > _MAX_DEPTH or isinstance(value, str | bytes | type):
        return
    if isinstance(value, dict):
        children: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        children = value
    elif isinstance(value, pydantic.BaseModel) or dataclasses.is_dataclass(value):
        fields = getattr(value, "__dict__", None) or {
            f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)
        }
        children = list(fields.values())
    else:
        return
    for child in children:
        yield from _instances(child, depth + 1)


def _annotation(module: _Module, node: ast.expr | None, index: int) -> _Annotation:
    """Evaluate an annotation the way Python (and then eval_str) would."""
    if node is None:
        return _Annotation(inspect.Parameter.empty, None)
    if module.future_annotations:
        raw = ast.unparse(node)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        raw = node.value
    else:
        return _Annotation(_eval_or_error(module, node, index), None)
    try:
        value = _Evaluator(module, None).eval(_parse_expression(raw))
    except (_Undefined, TypeError, SyntaxError) as exc:
        return _Annotation(None, raw, f"evaluating annotation {raw!r} fails ({_reason(exc)})")
    except Exception as exc:
        return _Annotation(_Unresolvable(_reason(exc)), raw)
    return _Annotation(value, raw)


def _eval_or_error(module: _Module, node: ast.expr, index: int) -> Any:
    """The value of a non-string annotation, or the error evaluating it."""
    try:
        return _Evaluator(module, index).eval(node)
    except Exception as exc:
        return _Unresolvable(_reason(exc))


def _final_annotation(module: _Module, ann: _Annotation, eval_failed: bool, where: str) -> Any:
    """What Prefect hands to pydantic: the evaluated annotation, or the raw
    string when eval_str failed; `Any` (empty) where we cannot follow."""
    value = ann.value
    if eval_failed and ann.raw is not None:
        value = ann.raw
    if isinstance(value, _Unresolvable):
        module.warn(f"{where}: annotation not evaluated ({value}); treated as Any")
        return inspect.Parameter.empty
    unsafe = [s for s in _strings_for_pydantic(value) if not _is_safe_type_string(s)]
    if unsafe:
        module.warn(f"{where}: annotation string {unsafe[0]!r} is not a plain type; treated as Any")
        return inspect.Parameter.empty
    for reason in _opaque_reasons(value):
        module.warn(f"{where}: annotation uses {reason}; that part accepts any value")
    return value


# --------------------------------------------------------- the module scope


class _Module:
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

    def find_function(self, name: str, before: int | None = None) -> tuple[_FuncDef, int]:
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

    def check_decorators(self, func: _FuncDef) -> None:
        """Warn about decorators that may change the signature Prefect sees."""
        for deco in func.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            try:
                value = _Evaluator(self, None).eval_callee(target)
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
            elif kind == "from" and _is_safe_module(module):
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
            raise _Undefined(f"{name!r} is only imported under TYPE_CHECKING")
        if later:
            raise _Undefined(f"{name!r} is defined only further down")
        value = getattr(builtins, name, None)
        if isinstance(value, type) and not name.startswith("_"):
            return value
        if value is not None or self.star_unknown:
            return self.opaque(name, f"{name!r}, which is not a plain type")
        raise _Undefined(f"{name!r} is not defined")

    def _resolve(self, name: str, binding: _Binding) -> Any:
        """Evaluate one binding once; a binding still being built (a class
        naming itself) is a forward reference."""
        key = id(binding)
        if key in self.cache:
            return self.cache[key]
        if key in self.in_progress:
            if binding.kind == "class":
                return ForwardRef(name)
            raise _Unresolvable(f"{name!r} refers to itself")
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
            return _build_class(self, binding.node, binding.index)  # type: ignore[arg-type]
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
            return _Evaluator(self, binding.index).eval(binding.value)
        except Exception as exc:
            line = binding.value.lineno
            reason = f"{name!r}, whose value (line {line}) is not evaluated: {_reason(exc)}"
            return self.opaque(name, reason)

    def _imported(self, name: str, binding: _Binding) -> Any:
        """A module or attribute from a safe module; otherwise opaque."""
        module = binding.module
        imported = binding.attr if binding.kind == "import" else module
        if imported in _PREFECT_MODULES:
            return self._from_prefect(name, binding)
        if not _is_safe_module(imported):
            return self.opaque(name, f"{name!r}, imported from {module!r} (not read)")
        if _import_or(imported, None) is None:
            return self.opaque(name, f"{name!r}, from {imported!r}, which does not exist")
        if binding.kind == "import":
            return importlib.import_module(module)
        value = getattr(importlib.import_module(module), binding.attr, _UNKNOWN)
        if value is _UNKNOWN and _is_safe_module(f"{module}.{binding.attr}"):
            value = _import_or(f"{module}.{binding.attr}", _UNKNOWN)
        if value is _UNKNOWN:
            return self.opaque(name, f"{name!r}, which {module!r} does not define")
        return value

    def _from_prefect(self, name: str, binding: _Binding) -> Any:
        """`prefect.flow` and `prefect.Flow`; everything else in prefect is opaque."""
        if binding.kind == "import":
            return _PREFECT
        value = getattr(_PREFECT, binding.attr, None)
        return value or self.opaque(name, f"{name!r}, imported from {binding.module!r} (not read)")

    def opaque(self, name: str, reason: str) -> type:
        """A stand-in class for a value that is not read: Prefect renders a
        plain class as "any value", as it does the real unknown type."""
        if name not in self.opaques:
            namespace = {"__module__": _OPAQUE_MODULE, "__doc__": reason, "__qualname__": name}
            self.opaques[name] = type(name, (), namespace)
        return self.opaques[name]


def _find_method(cls: ast.ClassDef, name: str) -> _FuncDef | None:
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


def _is_safe_module(name: str) -> bool:
    """Whether importing `name` only runs trusted, installed library code."""
    top = name.partition(".")[0]
    return name in _SAFE_MODULES or top in _SAFE_PACKAGES


def _import_or(name: str, fallback: Any) -> Any:
    """Import a safe module, or `fallback` when it does not exist."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return fallback


# ------------------------------------------------------------ the evaluator


class _Evaluator:
    """Evaluates expressions from the file without running any of its code.

    Names come from `_Module.lookup`; only allowlisted callables are called;
    attributes starting with an underscore are never read.
    """

    def __init__(
        self,
        module: _Module,
        before: int | None,
        local: dict[str, Any] | None = None,
        resolve_strings: bool = False,
    ) -> None:
        self.module = module
        self.before = before
        self.local = local if local is not None else {}
        self.resolve_strings = resolve_strings

    def eval(self, node: ast.expr) -> Any:
        """The value of `node`; never a callable library code could be tricked
        into calling later (a `default_factory`, a validator...)."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise _Unresolvable(f"{type(node).__name__} expressions are not evaluated")
        value = method(node)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            _ensure_harmless(value, node)
        return value

    def eval_callee(self, node: ast.expr) -> Any:
        """The function of a call or decorator: not checked here, since only
        allowlisted ones are ever called."""
        if isinstance(node, ast.Name):
            return self._Name(node)
        if isinstance(node, ast.Attribute):
            return self._Attribute(node)
        return self.eval(node)

    def eval_type(self, node: ast.expr) -> Any:
        """Evaluate `node` where a type is expected: a string there is a forward
        reference, resolved like pydantic would (when `resolve_strings`)."""
        if (
            self.resolve_strings
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
        ):
            return self._forward_ref(node.value)
        return self.eval(node)

    def _forward_ref(self, text: str) -> Any:
        if self.module.depth > _MAX_DEPTH:
            raise _Unresolvable("string annotations nest too deeply")
        self.module.depth += 1
        try:
            evaluator = _Evaluator(self.module, None, self.local, resolve_strings=True)
            return evaluator.eval_type(_parse_expression(text))
        finally:
            self.module.depth -= 1

    def keywords(self, keywords: list[ast.keyword]) -> dict[str, Any]:
        """Evaluated `name=value` arguments; `**mapping` is refused."""
        result: dict[str, Any] = {}
        for keyword in keywords:
            if keyword.arg is None:
                raise _Unresolvable("keyword unpacking is not evaluated")
            result[keyword.arg] = self.eval(keyword.value)
        return result

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.local:
            return self.local[node.id]
        return self.module.lookup(node.id, self.before)

    def _Attribute(self, node: ast.Attribute) -> Any:
        base = self.eval(node.value)
        if node.attr.startswith("_"):
            raise _Unresolvable(f"attribute {node.attr!r} is private")
        if _is_opaque(base):
            return self.module.opaque(f"{base.__qualname__}.{node.attr}", base.__doc__ or "")
        if base is _PREFECT and not hasattr(base, node.attr):
            return self.module.opaque(f"prefect.{node.attr}", "a part of prefect (not read)")
        if isinstance(base, types.ModuleType):
            return self._module_attribute(base, node.attr)
        return getattr(base, node.attr)

    def _module_attribute(self, module: types.ModuleType, attr: str) -> Any:
        if hasattr(module, attr):
            return getattr(module, attr)
        submodule = f"{module.__name__}.{attr}"
        if _is_safe_module(submodule):
            return _import_or(submodule, None) or getattr(module, attr)
        return getattr(module, attr)

    def _Subscript(self, node: ast.Subscript) -> Any:
        base = self.eval(node.value)
        if _is_opaque(base):
            raise _Unresolvable(f"{base.__qualname__} cannot be subscripted: {base.__doc__}")
        return base[self._subscript_index(base, node.slice)]

    def _subscript_index(self, base: Any, node: ast.expr) -> Any:
        """Literal values and Annotated metadata are data; the rest are types."""
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        if base is Literal:
            values = [self.eval(item) for item in items]
        elif base is typing.Annotated:
            values = [self.eval_type(items[0]), *(self.eval(item) for item in items[1:])]
        else:
            values = [self.eval_type(item) for item in items]
        return tuple(values) if isinstance(node, ast.Tuple) else values[0]

    def _Tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.eval(e) for e in _no_starred(node.elts))

    def _List(self, node: ast.List) -> list[Any]:
        return [self.eval(e) for e in _no_starred(node.elts)]

    def _Set(self, node: ast.Set) -> set[Any]:
        return {self.eval(e) for e in _no_starred(node.elts)}

    def _Dict(self, node: ast.Dict) -> dict[Any, Any]:
        if any(key is None for key in node.keys):
            raise _Unresolvable("dict unpacking is not evaluated")
        pairs = zip(node.keys, node.values, strict=True)
        return {self.eval(k): self.eval(v) for k, v in pairs}  # type: ignore[arg-type]

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARYOPS[type(node.op)](self.eval(node.operand))

    def _BinOp(self, node: ast.BinOp) -> Any:
        operator = _BINOPS.get(type(node.op))
        if operator is None:
            raise _Unresolvable(f"operator {type(node.op).__name__} is not evaluated")
        left, right = self.eval(node.left), self.eval(node.right)
        _check_size(node.op, left, right)
        return operator(left, right)

    def _Call(self, node: ast.Call) -> Any:
        func = self.eval_callee(node.func)
        if not _may_call(func):
            raise _Unresolvable(f"calling {ast.unparse(node.func)!r} is not allowed")
        args = [self.eval(a) for a in _no_starred(node.args)]
        kwargs = self.keywords(node.keywords)
        reasons = _opaque_reasons([args, list(kwargs.values())])
        if reasons:
            raise _Unresolvable(f"argument uses {reasons[0]}")
        return func(*args, **kwargs)


def _no_starred(elts: list[ast.expr]) -> list[ast.expr]:
    """`elts`, refusing `*x` unpacking (its source is not evaluated)."""
    if any(isinstance(e, ast.Starred) for e in elts):
        raise _Unresolvable("unpacking is not evaluated")
    return elts


def _parse_expression(text: str) -> ast.expr:
    """Parse a string annotation's text as Python would evaluate it."""
    if len(text) > _MAX_SIZE:
        raise _Unresolvable("string annotation is too long")
    return ast.parse(text.strip(), mode="eval").body


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse arithmetic that would build huge values (a cheap denial of service)."""
    sized = [v for v in (left, right) if isinstance(v, str | bytes | tuple | list)]
    numbers = [v for v in (left, right) if isinstance(v, int)]
    if isinstance(op, ast.Mult) and sized and numbers and len(sized[0]) * numbers[0] > _MAX_SIZE:
        raise _Unresolvable("value is too large")
    if isinstance(op, ast.Pow) and isinstance(right, int | float):
        bits = left.bit_length() if isinstance(left, int) else 64
        if abs(right) > 1024 or bits * abs(right) > _MAX_SIZE * 8:
            raise _Unresolvable("power is too large")
    if isinstance(op, ast.Add) and len(sized) == 2 and len(left) + len(right) > _MAX_SIZE:
        raise _Unresolvable("value is too large")
    if isinstance(op, ast.Mod) and isinstance(left, str | bytes):  # "%0999999999d" % 1
        raise _Unresolvable("%-formatting is not evaluated")


def _may_call(func: Any) -> bool:
    """Allowlisted constructors, annotated_types markers, classes rebuilt from
    the file, and ``date.fromisoformat``-style classmethods."""
    try:
        if func in _SAFE_CALLABLES:
            return True
    except TypeError:  # unhashable
        return False
    if func in _CONSTRAINTS:
        return True
    if isinstance(func, type):
        return func.__module__ == _REBUILT_MODULE
    return _is_safe_classmethod(func)


def _is_safe_classmethod(func: Any) -> bool:
    """``date.fromisoformat`` and the like: parsing, nothing else."""
    owner = getattr(func, "__self__", None)
    return (
        owner in (datetime.date, datetime.datetime, datetime.time)
        and getattr(func, "__name__", "") in _SAFE_CLASSMETHODS
    )


def _harmless(value: Any) -> bool:
    """Whether `value` may be handed to library code that could call it:
    data, trusted modules, classes from trusted modules (or rebuilt from the
    file), typing constructs, and allowlisted callables."""
    if isinstance(value, types.ModuleType):
        return value is _PREFECT or _is_safe_module(value.__name__)
    if not callable(value):
        return True
    if isinstance(value, type):
        module = getattr(value, "__module__", "")
        return module in (_REBUILT_MODULE, _OPAQUE_MODULE) or _is_safe_module(module)
    origin = typing.get_origin(value)
    if origin is not None and origin is not value:
        return _harmless(origin)
    if type(value).__module__ in ("typing", "typing_extensions"):
        return True
    try:
        return value in _HARMLESS_CALLABLES or _is_safe_classmethod(value)
    except TypeError:  # unhashable
        return False


def _ensure_harmless(value: Any, node: ast.expr) -> None:
    """Refuse a value that is, or holds, a callable library code must not get."""
    for part in _walk_types(value):
        if not _harmless(part):
            raise _Unresolvable(f"{ast.unparse(node)!r} is a {type(part).__name__}, not data")


def _is_opaque(value: Any) -> bool:
    return isinstance(value, type) and value.__module__ == _OPAQUE_MODULE


def _walk_types(value: Any, depth: int = 0) -> Iterator[Any]:
    """`value` and everything nested in it as a type argument or container item."""
    yield value
    if depth > _MAX_DEPTH or isinstance(value, str | bytes):
        return
    if isinstance(value, list | tuple | set | frozenset):
        children: Any = value
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    else:
        children = typing.get_args(value)
    for child in children:
        yield from _walk_types(child, depth + 1)


def _opaque_reasons(value: Any) -> list[str]:
    """Why parts of `value` are opaque stand-ins, one message per part."""
    return [str(v.__doc__) for v in _walk_types(value) if _is_opaque(v)]


def _strings_for_pydantic(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings pydantic will evaluate as forward references in an
    annotation (not Literal values, not Annotated metadata)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, ForwardRef):
        yield value.__forward_arg__
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings_for_pydantic(item, depth + 1)
    elif typing.get_origin(value) is not Literal:
        args = typing.get_args(value)
        if typing.get_origin(value) is typing.Annotated:
            args = args[:1]
        for arg in args:
            yield from _strings_for_pydantic(arg, depth + 1)


def _is_safe_type_string(text: str, depth: int = 0) -> bool:
    """Whether pydantic may evaluate `text`: only names, public attributes,
    subscripts and `|`; no calls. Nested strings must be safe too."""
    if depth > _MAX_DEPTH or len(text) > _MAX_SIZE:
        return False
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return all(_is_safe_type_node(node, depth) for node in ast.walk(tree))


def _is_safe_type_node(node: ast.AST, depth: int) -> bool:
    """One node of a string annotation pydantic may evaluate."""
    if not isinstance(node, _SAFE_TYPE_NODES):
        return False
    if isinstance(node, ast.Name):
        return not node.id.startswith("_")
    if isinstance(node, ast.Attribute):
        return not node.attr.startswith("_")
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _is_safe_type_string(node.value, depth + 1)
    return True


def _reason(exc: BaseException) -> str:
    """A short reason for a failed evaluation."""
    if isinstance(exc, _Unresolvable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------- classes from the file


def _build_class(module: _Module, node: ast.ClassDef, index: int) -> Any:
    """Rebuild a class defined in the file from its body, or an opaque stand-in."""
    if module.depth > _MAX_DEPTH:
        return module.opaque(node.name, f"class {node.name!r}, nested too deeply")
    module.depth += 1
    try:
        return _ClassBuilder(module, node, index).build()
    except Exception as exc:
        module.warn(f"line {node.lineno}: class {node.name!r} not rebuilt: {_reason(exc)}")
        reason = f"class {node.name!r} (line {node.lineno}), not rebuilt: {_reason(exc)}"
        return module.opaque(node.name, reason)
    finally:
        module.depth -= 1


class _ClassBuilder:
    """Recreates a data class (enum, pydantic model, dataclass, TypedDict) from
    its annotations, values, docstring and keywords. Methods are left out, so
    none of the file's code runs; classes whose methods shape the schema are
    refused."""

    def __init__(self, module: _Module, node: ast.ClassDef, index: int) -> None:
        self.module = module
        self.node = node
        self.index = index
        before = None if module.future_annotations else index
        self.evaluator = _Evaluator(module, index)
        self.local: dict[str, Any] = {}
        self.types = _Evaluator(module, before, self.local, resolve_strings=True)
        self.values = _Evaluator(module, index, self.local)
        self.annotations: dict[str, Any] = {}
        self.lossy = ""  # why instances cannot be rebuilt faithfully

    def build(self) -> Any:
        """The rebuilt class; raises when it cannot be rebuilt faithfully."""
        bases = tuple(self.evaluator.eval(b) for b in _no_starred(self.node.bases))
        for base in bases:
            if not _may_subclass(base):
                raise _Unresolvable(f"base {base!r} is not a plain data class")
        keywords = self.evaluator.keywords(self.node.keywords)
        if "metaclass" in keywords:
            raise _Unresolvable("a metaclass is not rebuilt")
        for stmt in self.node.body:
            self._statement(stmt)
        cls = types.new_class(self.node.name, bases, keywords, self._fill)
        cls = self._decorate(cls)
        inherited = [self.module.lossy[b] for b in bases if b in self.module.lossy]
        if self.lossy or inherited:
            self.module.lossy[cls] = self.lossy or inherited[0]
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            self.module.models[self.node.name] = cls
            _complete_models(self.module.models)
        return cls

    def _fill(self, namespace: dict[str, Any]) -> None:
        """The class body as `types.new_class` wants it."""
        namespace["__module__"] = _REBUILT_MODULE
        namespace["__qualname__"] = self.node.name
        doc = ast.get_docstring(self.node, clean=False)
        if doc is not None:
            namespace["__doc__"] = doc
        if self.annotations:
            namespace["__annotations__"] = self.annotations
        for name, value in self.local.items():
            namespace[name] = value
        if any(_opaque_reasons(a) for a in self.annotations.values()):
            _allow_arbitrary_types(namespace)

    def _statement(self, stmt: ast.stmt) -> None:
        """Take one statement of the class body into the rebuilt class."""
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            self._field(stmt.target.id, stmt.annotation, stmt.value)
        elif isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            value = self.values.eval(stmt.value)
            for target in stmt.targets:
                self._set(target.id, value)  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self._method(stmt)
        elif isinstance(stmt, ast.ClassDef):  # e.g. a v1-style `class Config:`
            self._set(stmt.name, self._nested(stmt))
        elif not isinstance(stmt, ast.Pass | ast.Expr):
            raise _Unresolvable(f"line {stmt.lineno}: {type(stmt).__name__} in the class body")

    def _nested(self, node: ast.ClassDef) -> Any:
        """A class defined in the class body; its failure is the outer class's."""
        if self.module.depth > _MAX_DEPTH:
            raise _Unresolvable("classes nest too deeply")
        self.module.depth += 1
        try:
            return _ClassBuilder(self.module, node, self.index).build()
        finally:
            self.module.depth -= 1

    def _field(self, name: str, annotation: ast.expr, value: ast.expr | None) -> None:
        self.annotations[name] = self.types.eval_type(annotation)
        for reason in _opaque_reasons(self.annotations[name]):
            self.module.warn(f"line {annotation.lineno}: field {name!r} of class "
                             f"{self.node.name!r} uses {reason}; that part accepts any value")
        if value is not None:
            self._set(name, self.values.eval(value))

    def _set(self, name: str, value: Any) -> None:
        if name.startswith("__") and name != "__doc__":
            raise _Unresolvable(f"class attribute {name!r} is not rebuilt")
        if _opaque_reasons(value):
            raise _Unresolvable(f"{name!r} uses {_opaque_reasons(value)[0]}")
        self.local[name] = value

    def _method(self, stmt: _FuncDef) -> None:
        """Methods are dropped; hooks that change the schema cannot be. Methods
        that run when an instance is built or dumped (validators, serializers,
        computed fields, __init__) make the class's instances lossy."""
        if stmt.name in _SCHEMA_HOOKS:
            raise _Unresolvable(f"method {stmt.name!r} changes its schema")
        for deco in stmt.decorator_list:
            if _changes_schema(deco):
                self.module.warn(f"line {deco.lineno}: validator {ast.unparse(deco)!r} of "
                                 f"class {self.node.name!r} may change the schema; ignored")
        decorators = {_decorator_name(d) for d in stmt.decorator_list} - _INERT_DECORATORS
        if decorators or stmt.name in _INSTANCE_HOOKS:
            where = f"method {stmt.name!r} of class {self.node.name!r} (line {stmt.lineno})"
            self.lossy = self.lossy or where

    def _decorate(self, cls: type) -> Any:
        """Apply allowlisted class decorators (dataclass & co), innermost first."""
        for deco in reversed(self.node.decorator_list):
            call = deco if isinstance(deco, ast.Call) else None
            func = self.evaluator.eval_callee(call.func if call else deco)
            if func not in _CLASS_DECORATORS:
                raise _Unresolvable(f"decorator {ast.unparse(deco)!r} is not rebuilt")
            if call and call.args:
                raise _Unresolvable(f"decorator {ast.unparse(deco)!r} takes keywords only")
            kwargs = self.evaluator.keywords(call.keywords) if call else {}
            cls = func(cls, **kwargs)
        return cls


def _decorator_name(decorator: ast.expr) -> str:
    """`field_validator` for `@field_validator(...)`, `pydantic.computed_field`..."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ast.unparse(target)


def _changes_schema(decorator: ast.expr) -> bool:
    """A plain validator, or one that declares its JSON schema input type."""
    if not isinstance(decorator, ast.Call):
        return False
    for keyword in decorator.keywords:
        if keyword.arg == "json_schema_input_type":
            return True
        if keyword.arg == "mode" and isinstance(keyword.value, ast.Constant):
            return bool(keyword.value.value == "plain")
    return False


def _may_subclass(base: Any) -> bool:
    """Bases whose class-creation hooks are trusted library code."""
    if base in _SPECIAL_BASES or getattr(base, "__module__", None) == _REBUILT_MODULE:
        return True
    origin = typing.get_origin(base)
    return origin is typing.Generic or getattr(origin, "__module__", None) == _REBUILT_MODULE


def _allow_arbitrary_types(namespace: dict[str, Any]) -> None:
    """Let a rebuilt model hold opaque stand-ins (rendered as "any value")."""
    config = dict(namespace.get("model_config", {}))
    config["arbitrary_types_allowed"] = True
    namespace["model_config"] = pydantic.ConfigDict(**config)


def _complete_models(models: dict[str, type[pydantic.BaseModel]]) -> None:
    """Resolve forward references between rebuilt models (a model naming a
    model still being built) until no more resolve."""
    progress = True
    while progress:
        pending = [m for m in models.values() if not m.__pydantic_complete__]
        progress = any(
            m.model_rebuild(_types_namespace=dict(models), raise_errors=False) for m in pending
        )

