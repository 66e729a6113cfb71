"""The one place where results and failures become exit codes for Invoke tasks."""

from __future__ import annotations

from collections.abc import Callable

from invoke.exceptions import Exit

from deploytasks.console import Output
from deploytasks.errors import DeployTasksError

EXIT_INTERRUPTED = 130


def run(body: Callable[[Output], int | None], *, json: bool = False, verbose: bool = False) -> None:
    """Run a task body with an ``Output``; turn its result or failure into Invoke's exit."""
    out = Output(json_mode=json, verbose=verbose)
    try:
        code = body(out) or 0
    except DeployTasksError as error:
        out.error(error)
        raise Exit(code=error.exit_code) from None
    except KeyboardInterrupt:
        out.error("interrupted — what finished is kept; run the command again to finish the rest")
        raise Exit(code=EXIT_INTERRUPTED) from None
    if code:
        raise Exit(code=code)
