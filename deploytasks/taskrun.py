"""The one place where results and failures become exit codes.

Invoke tasks call ``run`` (which raises Invoke's ``Exit``); the debugging CLI
calls ``execute`` (which returns the code). Both print an expected failure
as one line and keep tracebacks for bugs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from deploytasks.errors import EXIT_INTERRUPTED, DeployTasksError

if TYPE_CHECKING:  # imported when a task runs: listing and completing tasks never need it
    from deploytasks.console import Output

Body = Callable[["Output"], "int | None"]


def execute(body: Body, *, json: bool = False, verbose: bool = False) -> int:
    """Run a command body with an ``Output`` and return its exit code."""
    from deploytasks.console import Output

    out = Output(json_mode=json, verbose=verbose)
    try:
        return body(out) or 0
    except DeployTasksError as error:
        out.error(error)
        return error.exit_code
    except KeyboardInterrupt:
        out.error("interrupted — what finished is kept; run the command again to finish the rest")
        return EXIT_INTERRUPTED
    except Exception as error:  # a broken Prefect profiles file fails Prefect's own import
        from deploytasks.prefect_profile import unreadable_profiles

        problem = unreadable_profiles(error)
        if problem is None:
            raise
        out.error(problem)
        return problem.exit_code


def run(body: Body, *, json: bool = False, verbose: bool = False) -> None:
    """Run a task body; a non-zero code becomes Invoke's ``Exit``."""
    from invoke.exceptions import Exit

    code = execute(body, json=json, verbose=verbose)
    if code:
        raise Exit(code=code)
