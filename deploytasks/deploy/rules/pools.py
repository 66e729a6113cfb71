"""Rules about the configured work pools: one that exists must have the type its kind of
deployment needs (a pool is never changed to fix it: it may serve other projects), and one
that is missing must be creatable: its worker type's package is installed."""

from __future__ import annotations

from deploytasks.findings import ERROR, Finding


def wrong_pool_type(kind: str, name: str, wanted: str, actual: str | None) -> Finding | None:
    """The pool exists with another type than ``kind`` deployments need."""
    if actual is None or actual == wanted:
        return None
    return Finding(
        ERROR, None, None,
        f"work pool '{name}' exists with type '{actual}', but {kind} deployments need type "
        f"'{wanted}'", f"use another pool name in work_pools.{kind}",
        kind=kind, setting=f"work_pools.{kind}",
    )


def uncreatable_pool(kind: str, name: str, message: str, hint: str) -> Finding:
    """The pool is missing and cannot be created here (``message``/``hint`` say why)."""
    return Finding(ERROR, None, None, f"work pool '{name}' does not exist, and {message}",
                   hint, kind=kind, setting=f"work_pools.{kind}")
