"""The trust boundary of the deriver: what source from the flow's repository may reach.

Nothing in the file is executed, so everything the deriver does on the file's
behalf is decided here, in one place a reviewer can read: which modules are
imported (``SAFE_MODULES``; of prefect only ``flow``), which callables the
evaluator calls (``SAFE_CALLABLES``, ``CONSTRAINTS``), which decorators, bases
and methods a rebuilt class may have, which values may be handed to library
code that could call them (``ensure_harmless``), which string annotations
pydantic may evaluate (``is_safe_type_string``), and how big a value may grow.
The other modules only ask these questions; widening what is trusted means
editing this file and nothing else.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime
import decimal
import enum
import fractions
import importlib
import ipaddress
import pathlib
import types
import typing
import uuid
from collections.abc import Iterator
from typing import Any, ForwardRef, Literal

import annotated_types
import prefect
import pydantic
import pydantic.dataclasses
import typing_extensions

from deploytasks.deploy.schema.errors import Unresolvable

# The `__module__` of stand-ins for values that are not read, and of classes
# rebuilt from the file: how the checks below tell them from library classes.
# Neither is an importable module.
OPAQUE_MODULE = "deploytasks.deploy.schema.unresolved"
REBUILT_MODULE = "deploytasks.deploy.schema.rebuilt"
MAX_SIZE = 100_000  # longest str/bytes/sequence the interpreter will build
MAX_DEPTH = 40  # deepest nesting of string annotations and class rebuilds

# Modules whose import cannot run code from the flow's repository and whose
# objects may be named in annotations and defaults.
SAFE_MODULES = frozenset(
    {
        "abc", "annotated_types", "builtins", "collections", "collections.abc", "dataclasses",
        "datetime", "decimal", "enum", "fractions", "ipaddress", "numbers", "pathlib", "re",
        "types", "typing", "typing_extensions", "uuid", "zoneinfo",
    }
)  # fmt: skip
SAFE_PACKAGES = ("pydantic",)
# Of prefect, only the flow decorator is needed (to recognise it); the rest of
# prefect is not a data library and stays opaque.
PREFECT_MODULES = frozenset({"prefect", "prefect.flows"})
PREFECT = types.ModuleType("prefect")
PREFECT.flow = prefect.flow  # type: ignore[attr-defined]
PREFECT.Flow = prefect.Flow  # type: ignore[attr-defined]

# Callables the interpreter may call: constructors of plain data, and pydantic's
# declarative helpers. None of them can call back into code from the file.
SAFE_CALLABLES: frozenset[Any] = frozenset(
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
CONSTRAINTS: frozenset[Any] = frozenset(
    {
        annotated_types.Gt, annotated_types.Ge, annotated_types.Lt, annotated_types.Le,
        annotated_types.Interval, annotated_types.MultipleOf, annotated_types.MinLen,
        annotated_types.MaxLen, annotated_types.Len, annotated_types.Timezone,
    }
)  # fmt: skip
SAFE_CLASSMETHODS = frozenset({"fromisoformat"})  # on date, datetime, time
CLASS_DECORATORS: frozenset[Any] = frozenset(
    {dataclasses.dataclass, pydantic.dataclasses.dataclass, enum.unique, typing.final}
)
# Callables (other than classes) that may appear as values, e.g. as a base or
# as a `default_factory` that pydantic will call.
HARMLESS_CALLABLES: frozenset[Any] = SAFE_CALLABLES | CLASS_DECORATORS | frozenset(
    {
        typing.NamedTuple, typing.TypedDict, typing_extensions.NamedTuple,
        typing_extensions.TypedDict, prefect.flow, prefect.Flow,
    }
)  # fmt: skip
# Special base classes a rebuilt class may have besides object and other rebuilt
# classes; their class creation hooks are library code, not the file's.
SPECIAL_BASES: frozenset[Any] = frozenset(
    {
        pydantic.BaseModel, pydantic.RootModel, typing.Generic, typing.NamedTuple,
        typing.TypedDict, typing_extensions.TypedDict, typing_extensions.NamedTuple,
        enum.Enum, enum.IntEnum, getattr(enum, "StrEnum", enum.Enum), enum.Flag, enum.IntFlag,
        str, int, float, bytes, object,
    }
)  # fmt: skip
# Methods that change how pydantic builds a class's schema; a class defining
# one cannot be rebuilt without running it.
SCHEMA_HOOKS = frozenset(
    {
        "__get_pydantic_core_schema__", "__get_pydantic_json_schema__", "__get_validators__",
        "__modify_schema__", "model_json_schema", "__new__", "_generate_next_value_",
        "__init_subclass__", "__class_getitem__",
    }
)  # fmt: skip
# Decorators of methods that cannot change what an instance holds or dumps,
# and methods that run when an instance is built.
INERT_DECORATORS = frozenset({"property", "classmethod", "staticmethod", "abstractmethod"})
INSTANCE_HOOKS = frozenset({"__init__", "__post_init__", "model_post_init", "__setattr__"})
# The only syntax a string annotation may use for pydantic to evaluate it.
_SAFE_TYPE_NODES = (
    ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
    ast.BinOp, ast.BitOr, ast.Load,
)  # fmt: skip


def is_safe_module(name: str) -> bool:
    """Whether importing `name` only runs trusted, installed library code."""
    top = name.partition(".")[0]
    return name in SAFE_MODULES or top in SAFE_PACKAGES


def import_or(name: str, fallback: Any) -> Any:
    """Import a safe module, or `fallback` when it does not exist."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return fallback


def may_call(func: Any) -> bool:
    """Allowlisted constructors, annotated_types markers, classes rebuilt from
    the file, and ``date.fromisoformat``-style classmethods."""
    try:
        if func in SAFE_CALLABLES:
            return True
    except TypeError:  # unhashable
        return False
    if func in CONSTRAINTS:
        return True
    if isinstance(func, type):
        return func.__module__ == REBUILT_MODULE
    return is_safe_classmethod(func)


def is_safe_classmethod(func: Any) -> bool:
    """``date.fromisoformat`` and the like: parsing, nothing else."""
    owner = getattr(func, "__self__", None)
    return (
        owner in (datetime.date, datetime.datetime, datetime.time)
        and getattr(func, "__name__", "") in SAFE_CLASSMETHODS
    )


def _harmless(value: Any) -> bool:
    """Whether `value` may be handed to library code that could call it:
    data, trusted modules, classes from trusted modules (or rebuilt from the
    file), typing constructs, and allowlisted callables."""
    if isinstance(value, types.ModuleType):
        return value is PREFECT or is_safe_module(value.__name__)
    if not callable(value):
        return True
    if isinstance(value, type):
        module = getattr(value, "__module__", "")
        return module in (REBUILT_MODULE, OPAQUE_MODULE) or is_safe_module(module)
    origin = typing.get_origin(value)
    if origin is not None and origin is not value:
        return _harmless(origin)
    if type(value).__module__ in ("typing", "typing_extensions"):
        return True
    try:
        return value in HARMLESS_CALLABLES or is_safe_classmethod(value)
    except TypeError:  # unhashable
        return False


def ensure_harmless(value: Any, node: ast.expr) -> None:
    """Refuse a value that is, or holds, a callable library code must not get."""
    for part in walk_types(value):
        if not _harmless(part):
            raise Unresolvable(f"{ast.unparse(node)!r} is a {type(part).__name__}, not data")


def is_opaque(value: Any) -> bool:
    """Whether `value` is a stand-in for something that was not read."""
    return isinstance(value, type) and value.__module__ == OPAQUE_MODULE


def walk_types(value: Any, depth: int = 0) -> Iterator[Any]:
    """`value` and everything nested in it as a type argument or container item."""
    yield value
    if depth > MAX_DEPTH or isinstance(value, str | bytes):
        return
    if isinstance(value, list | tuple | set | frozenset):
        children: Any = value
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    else:
        children = typing.get_args(value)
    for child in children:
        yield from walk_types(child, depth + 1)


def opaque_reasons(value: Any) -> list[str]:
    """Why parts of `value` are opaque stand-ins, one message per part."""
    return [str(v.__doc__) for v in walk_types(value) if is_opaque(v)]


def strings_for_pydantic(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings pydantic will evaluate as forward references in an
    annotation (not Literal values, not Annotated metadata)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, ForwardRef):
        yield value.__forward_arg__
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_for_pydantic(item, depth + 1)
    elif typing.get_origin(value) is not Literal:
        args = typing.get_args(value)
        if typing.get_origin(value) is typing.Annotated:
            args = args[:1]
        for arg in args:
            yield from strings_for_pydantic(arg, depth + 1)


def is_safe_type_string(text: str, depth: int = 0) -> bool:
    """Whether pydantic may evaluate `text`: only names, public attributes,
    subscripts and `|`; no calls. Nested strings must be safe too."""
    if depth > MAX_DEPTH or len(text) > MAX_SIZE:
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
        return is_safe_type_string(node.value, depth + 1)
    return True
