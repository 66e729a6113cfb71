"""Invoke entry point: the namespace lives in the package (deploytasks/tasks.py)."""

from deploytasks.tasks import ns

__all__ = ["ns"]
