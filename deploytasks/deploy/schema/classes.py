"""Classes defined in the flow file, rebuilt from their bodies without running them.

A parameter annotated with an enum, a pydantic model, a dataclass, a NamedTuple
or a TypedDict from the same file needs the real class for Prefect's schema.
``build_class`` recreates it with ``types.new_class`` from what the body
declares (annotations, values, docstring, nested ``Config``, class keywords,
allowlisted decorators) and drops the methods. Classes whose methods would
shape the schema are refused (and become opaque); classes whose methods run
when an instance is built or dumped are marked lossy, so that ``signature``
leaves out defaults that are instances of them.
"""

from __future__ import annotations

import ast
import types
import typing
from typing import TYPE_CHECKING, Any

import pydantic

from deploytasks.deploy.schema.allowlists import (
    CLASS_DECORATORS,
    INERT_DECORATORS,
    INSTANCE_HOOKS,
    MAX_DEPTH,
    REBUILT_MODULE,
    SCHEMA_HOOKS,
    SPECIAL_BASES,
    opaque_reasons,
)
from deploytasks.deploy.schema.errors import Unresolvable, failure_reason
from deploytasks.deploy.schema.evaluator import Evaluator, no_starred

if TYPE_CHECKING:
    from deploytasks.deploy.schema.scope import FuncDef, ModuleScope


def build_class(module: ModuleScope, node: ast.ClassDef, index: int) -> Any:
    """Rebuild a class defined in the file from its body, or an opaque stand-in."""
    if module.depth > MAX_DEPTH:
        return module.opaque(node.name, f"class {node.name!r}, nested too deeply")
    module.depth += 1
    try:
        return _ClassBuilder(module, node, index).build()
    except Exception as exc:
        module.warn(f"line {node.lineno}: class {node.name!r} not rebuilt: {failure_reason(exc)}")
        reason = f"class {node.name!r} (line {node.lineno}), not rebuilt: {failure_reason(exc)}"
        return module.opaque(node.name, reason)
    finally:
        module.depth -= 1


class _ClassBuilder:
    """Recreates a data class (enum, pydantic model, dataclass, TypedDict) from
    its annotations, values, docstring and keywords. Methods are left out, so
    none of the file's code runs; classes whose methods shape the schema are
    refused."""

    def __init__(self, module: ModuleScope, node: ast.ClassDef, index: int) -> None:
        self.module = module
        self.node = node
        self.index = index
        before = None if module.future_annotations else index
        self.evaluator = Evaluator(module, index)
        self.local: dict[str, Any] = {}
        self.types = Evaluator(module, before, self.local, resolve_strings=True)
        self.values = Evaluator(module, index, self.local)
        self.annotations: dict[str, Any] = {}
        self.lossy = ""  # why instances cannot be rebuilt faithfully

    def build(self) -> Any:
        """The rebuilt class; raises when it cannot be rebuilt faithfully."""
        bases = tuple(self.evaluator.eval(b) for b in no_starred(self.node.bases))
        for base in bases:
            if not _may_subclass(base):
                raise Unresolvable(f"base {base!r} is not a plain data class")
        keywords = self.evaluator.keywords(self.node.keywords)
        if "metaclass" in keywords:
            raise Unresolvable("a metaclass is not rebuilt")
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
        namespace["__module__"] = REBUILT_MODULE
        namespace["__qualname__"] = self.node.name
        doc = ast.get_docstring(self.node, clean=False)
        if doc is not None:
            namespace["__doc__"] = doc
        if self.annotations:
            namespace["__annotations__"] = self.annotations
        for name, value in self.local.items():
            namespace[name] = value
        if any(opaque_reasons(a) for a in self.annotations.values()):
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
            raise Unresolvable(f"line {stmt.lineno}: {type(stmt).__name__} in the class body")

    def _nested(self, node: ast.ClassDef) -> Any:
        """A class defined in the class body; its failure is the outer class's."""
        if self.module.depth > MAX_DEPTH:
            raise Unresolvable("classes nest too deeply")
        self.module.depth += 1
        try:
            return _ClassBuilder(self.module, node, self.index).build()
        finally:
            self.module.depth -= 1

    def _field(self, name: str, annotation: ast.expr, value: ast.expr | None) -> None:
        self.annotations[name] = self.types.eval_type(annotation)
        for reason in opaque_reasons(self.annotations[name]):
            self.module.warn(f"line {annotation.lineno}: field {name!r} of class "
                             f"{self.node.name!r} uses {reason}; that part accepts any value")
        if value is not None:
            self._set(name, self.values.eval(value))

    def _set(self, name: str, value: Any) -> None:
        if name.startswith("__") and name != "__doc__":
            raise Unresolvable(f"class attribute {name!r} is not rebuilt")
        if opaque_reasons(value):
            raise Unresolvable(f"{name!r} uses {opaque_reasons(value)[0]}")
        self.local[name] = value

    def _method(self, stmt: FuncDef) -> None:
        """Methods are dropped; hooks that change the schema cannot be. Methods
        that run when an instance is built or dumped (validators, serializers,
        computed fields, __init__) make the class's instances lossy."""
        if stmt.name in SCHEMA_HOOKS:
            raise Unresolvable(f"method {stmt.name!r} changes its schema")
        for deco in stmt.decorator_list:
            if _changes_schema(deco):
                self.module.warn(f"line {deco.lineno}: validator {ast.unparse(deco)!r} of "
                                 f"class {self.node.name!r} may change the schema; ignored")
        decorators = {_decorator_name(d) for d in stmt.decorator_list} - INERT_DECORATORS
        if decorators or stmt.name in INSTANCE_HOOKS:
            where = f"method {stmt.name!r} of class {self.node.name!r} (line {stmt.lineno})"
            self.lossy = self.lossy or where

    def _decorate(self, cls: type) -> Any:
        """Apply allowlisted class decorators (dataclass & co), innermost first."""
        for deco in reversed(self.node.decorator_list):
            call = deco if isinstance(deco, ast.Call) else None
            func = self.evaluator.eval_callee(call.func if call else deco)
            if func not in CLASS_DECORATORS:
                raise Unresolvable(f"decorator {ast.unparse(deco)!r} is not rebuilt")
            if call and call.args:
                raise Unresolvable(f"decorator {ast.unparse(deco)!r} takes keywords only")
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
    if base in SPECIAL_BASES or getattr(base, "__module__", None) == REBUILT_MODULE:
        return True
    origin = typing.get_origin(base)
    return origin is typing.Generic or getattr(origin, "__module__", None) == REBUILT_MODULE


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
