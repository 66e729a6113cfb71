"""The flow function's signature, rebuilt as ``inspect.signature(flow, eval_str=True)`` would.

This is the step that meets Prefect: the parameters of the ``ast`` function
(kinds, defaults, annotations, with ``from __future__ import annotations`` and
string annotations handled as Python and pydantic do) become an
``inspect.Signature`` handed to Prefect's own ``generate_parameter_schema``, so
the schema is Prefect's. Where a default or annotation cannot be read, it warns
and falls back as Prefect would (``Any``, a left-out default); where Prefect
itself fails, ``SchemaError`` names the parameter.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Iterator
from typing import Any

import pydantic
from prefect.utilities.callables import generate_parameter_schema, parameter_docstrings

from deploytasks.deploy.schema.allowlists import (
    MAX_DEPTH,
    is_safe_type_string,
    opaque_reasons,
    strings_for_pydantic,
)
from deploytasks.deploy.schema.errors import SchemaError, Undefined, Unresolvable, failure_reason
from deploytasks.deploy.schema.evaluator import Evaluator, parse_expression
from deploytasks.deploy.schema.scope import FuncDef, ModuleScope


@dataclasses.dataclass
class _Annotation:
    """A parameter's annotation as ``fn.__annotations__`` holds it at runtime."""

    value: Any
    raw: str | None  # the annotation string when the runtime value is a string
    failure: str | None = None  # why evaluating the string would raise


def schema_for(module: ModuleScope, func: FuncDef, index: int) -> dict[str, Any]:
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
    signature: inspect.Signature, docstrings: dict[str, str], func: FuncDef, exc: Exception
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


def _arguments(func: FuncDef) -> list[_Argument]:
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
    module: ModuleScope, func: FuncDef, index: int
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


def _default(module: ModuleScope, node: ast.expr | None, index: int, where: str) -> Any:
    """The evaluated default, `inspect.Parameter.empty`, or `_UNKNOWN`."""
    if node is None:
        return inspect.Parameter.empty
    try:
        value = Evaluator(module, index).eval(node)
    except Exception as exc:
        text = ast.unparse(node)
        module.warn(f"{where}: default {text!r} not evaluated ({failure_reason(exc)}); left out")
        return _UNKNOWN
    reasons = opaque_reasons(value) + _lossy_reasons(module, value)
    if reasons:
        module.warn(f"{where}: default {ast.unparse(node)!r} uses {reasons[0]}; left out")
        return _UNKNOWN
    return value


def _lossy_reasons(module: ModuleScope, value: Any) -> list[str]:
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
    if depth > MAX_DEPTH or isinstance(value, str | bytes | type):
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


def _annotation(module: ModuleScope, node: ast.expr | None, index: int) -> _Annotation:
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
        value = Evaluator(module, None).eval(parse_expression(raw))
    except (Undefined, TypeError, SyntaxError) as exc:
        failure = f"evaluating annotation {raw!r} fails ({failure_reason(exc)})"
        return _Annotation(None, raw, failure)
    except Exception as exc:
        return _Annotation(Unresolvable(failure_reason(exc)), raw)
    return _Annotation(value, raw)


def _eval_or_error(module: ModuleScope, node: ast.expr, index: int) -> Any:
    """The value of a non-string annotation, or the error evaluating it."""
    try:
        return Evaluator(module, index).eval(node)
    except Exception as exc:
        return Unresolvable(failure_reason(exc))


def _final_annotation(module: ModuleScope, ann: _Annotation, eval_failed: bool, where: str) -> Any:
    """What Prefect hands to pydantic: the evaluated annotation, or the raw
    string when eval_str failed; `Any` (empty) where we cannot follow."""
    value = ann.value
    if eval_failed and ann.raw is not None:
        value = ann.raw
    if isinstance(value, Unresolvable):
        module.warn(f"{where}: annotation not evaluated ({value}); treated as Any")
        return inspect.Parameter.empty
    unsafe = [s for s in strings_for_pydantic(value) if not is_safe_type_string(s)]
    if unsafe:
        module.warn(f"{where}: annotation string {unsafe[0]!r} is not a plain type; treated as Any")
        return inspect.Parameter.empty
    for reason in opaque_reasons(value):
        module.warn(f"{where}: annotation uses {reason}; that part accepts any value")
    return value
