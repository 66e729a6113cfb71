"""What goes wrong while deriving a schema, and how it is reported.

``SchemaError`` is the one public failure: the schema cannot be derived at all,
and the message names the line. The other two never leave the package: they
signal that one expression is not evaluated (the caller then warns and falls
back, as an opaque class, ``Any`` or a left-out default). They live apart from
the modules that raise them because every stage raises and catches them.
"""

from __future__ import annotations

from deploytasks.errors import DeployTasksError


class SchemaError(DeployTasksError):
    """The schema cannot be derived at all (bad source, missing function, a
    parameter Prefect itself could not describe); the message names where."""


class Unresolvable(Exception):
    """An expression the deriver will not or cannot evaluate safely."""


class Undefined(Unresolvable):
    """A name with no binding at runtime: the real evaluation raises NameError."""


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failed evaluation."""
    if isinstance(exc, Unresolvable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
