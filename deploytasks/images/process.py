"""Run a host command (debootstrap, tar, pip) with its output streamed line by line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from deploytasks.errors import WorkFailed

LineSink = Callable[[str], None]


def run_streamed(command: list[str], on_line: LineSink | None, *, what: str,
                 hint: str) -> None:
    """Run ``command``; each output line goes to ``on_line``; failure quotes the last lines."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")
    except FileNotFoundError:
        raise WorkFailed(f"{what}: {command[0]} is not installed", hint=hint) from None
    lines: list[str] = []
    for line in process.stdout or ():
        lines.append(line.rstrip())
        if on_line:
            on_line(line.rstrip())
    if process.wait() != 0:
        tail = " | ".join(line for line in lines[-3:] if line)
        raise WorkFailed(f"{what} failed (exit {process.returncode}): {tail}", hint=hint)
