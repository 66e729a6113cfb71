"""The safe interpreter: the value of one expression from the file, without running it.

``Evaluator`` walks an expression's ``ast``: names (looked up in the
``ModuleScope``), public attributes, subscripts, literals, small arithmetic, and
calls of allowlisted constructors only. Every value it yields is checked by
``allowlists.ensure_harmless`` so that no function from the file (or any
untrusted callable) can reach library code. What it will not evaluate raises
``Unresolvable``; the caller decides what that means (a warning and a fallback).
It is kept apart from the scope so that the rules for *one expression* can be
read without the rules for *which binding a name has*.
"""

from __future__ import annotations

import ast
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from deploytasks.deploy.schema.allowlists import (
    MAX_DEPTH,
    MAX_SIZE,
    PREFECT,
    ensure_harmless,
    import_or,
    is_opaque,
    is_safe_module,
    may_call,
    opaque_reasons,
)
from deploytasks.deploy.schema.errors import Unresolvable

if TYPE_CHECKING:
    from deploytasks.deploy.schema.scope import ModuleScope


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


class Evaluator:
    """Evaluates expressions from the file without running any of its code.

    Names come from `ModuleScope.lookup`; only allowlisted callables are called;
    attributes starting with an underscore are never read.
    """

    def __init__(
        self,
        module: ModuleScope,
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
            raise Unresolvable(f"{type(node).__name__} expressions are not evaluated")
        value = method(node)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            ensure_harmless(value, node)
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
        if self.module.depth > MAX_DEPTH:
            raise Unresolvable("string annotations nest too deeply")
        self.module.depth += 1
        try:
            evaluator = Evaluator(self.module, None, self.local, resolve_strings=True)
            return evaluator.eval_type(parse_expression(text))
        finally:
            self.module.depth -= 1

    def keywords(self, keywords: list[ast.keyword]) -> dict[str, Any]:
        """Evaluated `name=value` arguments; `**mapping` is refused."""
        result: dict[str, Any] = {}
        for keyword in keywords:
            if keyword.arg is None:
                raise Unresolvable("keyword unpacking is not evaluated")
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
            raise Unresolvable(f"attribute {node.attr!r} is private")
        if is_opaque(base):
            return self.module.opaque(f"{base.__qualname__}.{node.attr}", base.__doc__ or "")
        if base is PREFECT and not hasattr(base, node.attr):
            return self.module.opaque(f"prefect.{node.attr}", "a part of prefect (not read)")
        if isinstance(base, types.ModuleType):
            return self._module_attribute(base, node.attr)
        return getattr(base, node.attr)

    def _module_attribute(self, module: types.ModuleType, attr: str) -> Any:
        if hasattr(module, attr):
            return getattr(module, attr)
        submodule = f"{module.__name__}.{attr}"
        if is_safe_module(submodule):
            return import_or(submodule, None) or getattr(module, attr)
        return getattr(module, attr)

    def _Subscript(self, node: ast.Subscript) -> Any:
        base = self.eval(node.value)
        if is_opaque(base):
            raise Unresolvable(f"{base.__qualname__} cannot be subscripted: {base.__doc__}")
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
        return tuple(self.eval(e) for e in no_starred(node.elts))

    def _List(self, node: ast.List) -> list[Any]:
        return [self.eval(e) for e in no_starred(node.elts)]

    def _Set(self, node: ast.Set) -> set[Any]:
        return {self.eval(e) for e in no_starred(node.elts)}

    def _Dict(self, node: ast.Dict) -> dict[Any, Any]:
        if any(key is None for key in node.keys):
            raise Unresolvable("dict unpacking is not evaluated")
        pairs = zip(node.keys, node.values, strict=True)
        return {self.eval(k): self.eval(v) for k, v in pairs}  # type: ignore[arg-type]

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARYOPS[type(node.op)](self.eval(node.operand))

    def _BinOp(self, node: ast.BinOp) -> Any:
        operator = _BINOPS.get(type(node.op))
        if operator is None:
            raise Unresolvable(f"operator {type(node.op).__name__} is not evaluated")
        left, right = self.eval(node.left), self.eval(node.right)
        _check_size(node.op, left, right)
        return operator(left, right)

    def _Call(self, node: ast.Call) -> Any:
        func = self.eval_callee(node.func)
        if not may_call(func):
            raise Unresolvable(f"calling {ast.unparse(node.func)!r} is not allowed")
        args = [self.eval(a) for a in no_starred(node.args)]
        kwargs = self.keywords(node.keywords)
        reasons = opaque_reasons([args, list(kwargs.values())])
        if reasons:
            raise Unresolvable(f"argument uses {reasons[0]}")
        return func(*args, **kwargs)


def no_starred(elts: list[ast.expr]) -> list[ast.expr]:
    """`elts`, refusing `*x` unpacking (its source is not evaluated)."""
    if any(isinstance(e, ast.Starred) for e in elts):
        raise Unresolvable("unpacking is not evaluated")
    return elts


def parse_expression(text: str) -> ast.expr:
    """Parse a string annotation's text as Python would evaluate it."""
    if len(text) > MAX_SIZE:
        raise Unresolvable("string annotation is too long")
    return ast.parse(text.strip(), mode="eval").body


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse arithmetic that would build huge values (a cheap denial of service)."""
    sized = [v for v in (left, right) if isinstance(v, str | bytes | tuple | list)]
    numbers = [v for v in (left, right) if isinstance(v, int)]
    if isinstance(op, ast.Mult) and sized and numbers and len(sized[0]) * numbers[0] > MAX_SIZE:
        raise Unresolvable("value is too large")
    if isinstance(op, ast.Pow) and isinstance(right, int | float):
        bits = left.bit_length() if isinstance(left, int) else 64
        if abs(right) > 1024 or bits * abs(right) > MAX_SIZE * 8:
            raise Unresolvable("power is too large")
    if isinstance(op, ast.Add) and len(sized) == 2 and len(left) + len(right) > MAX_SIZE:
        raise Unresolvable("value is too large")
    if isinstance(op, ast.Mod) and isinstance(left, str | bytes):  # "%0999999999d" % 1
        raise Unresolvable("%-formatting is not evaluated")
