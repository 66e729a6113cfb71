"""A flow's parameter schema, derived from its source without importing it.

Prefect registers, for each deployment, the JSON schema of the flow's
parameters (``parameter_openapi_schema``). It gets it by importing the flow
file, which runs the file's code. deploytasks must not run untrusted code, so
this package rebuilds the flow's ``inspect.Signature`` from the ``ast`` and hands
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

The package follows those steps, one module each (at run time a module imports
only those below it; type hints may point up):

- ``signature``: the parameters of the flow function as ``inspect.Signature``,
  handed to Prefect's generator; defaults and annotations it cannot read.
- ``scope``: the file's top-level bindings (imports, assignments, classes,
  ``if TYPE_CHECKING``), looked up lazily as code at a given line sees them.
- ``classes``: enums, models, dataclasses and TypedDicts rebuilt from their bodies.
- ``evaluator``: the interpreter for one expression.
- ``allowlists``: what is trusted: modules read, callables called, bases
  subclassed, values handed to library code, string annotations pydantic may
  evaluate; and the size limits.
- ``errors``: ``SchemaError`` (public) and the internal "cannot evaluate" signals.
"""

from __future__ import annotations

import warnings
from typing import Any

from deploytasks.deploy.schema.errors import SchemaError
from deploytasks.deploy.schema.scope import ModuleScope
from deploytasks.deploy.schema.signature import schema_for

__all__ = ["SchemaError", "parameter_schema_from_source", "parameter_schema_with_warnings"]


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
    module = ModuleScope(source)
    func, index = module.find_function(function_name)
    with warnings.catch_warnings():  # pydantic's own, which Prefect emits too
        warnings.simplefilter("ignore")
        schema = schema_for(module, func, index)
    return schema, list(dict.fromkeys(module.warnings))
