"""Asking the person at the terminal; never blocks a script or a CI job."""

from __future__ import annotations

import sys


def confirm(question: str) -> bool:
    """Ask ``question`` on a terminal; without one (CI, pipes) the answer is no."""
    if not sys.stdin.isatty():
        return False
    from rich.prompt import Confirm

    return Confirm.ask(question, default=False)
