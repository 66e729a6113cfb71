"""The bodies of the ``deploy`` tasks: build, validate, test (plan), deploy, clean, adopt, check.

Each takes an ``Output`` and plain options, calls the service
(``deploytasks/service/``), hands the result to the renderer and returns the
exit code. The work itself, and whether it failed, is the service's. Each body
imports only its own part of the service, so that a deploy loads no cleaning,
checking or adopting code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from deploytasks.console import Output
from deploytasks.console import deploy as render
from deploytasks.console import project as project_view
from deploytasks.errors import EXIT_OK, EXIT_PROBLEMS
from deploytasks.service.selection import NotValid, Selection

if TYPE_CHECKING:
    from deploytasks.service.cleaning import CleanOptions


def exit_code(failed: bool) -> int:
    """1 when the work found problems, else 0."""
    return EXIT_PROBLEMS if failed else EXIT_OK


@contextmanager
def problems_shown(out: Output) -> Iterator[None]:
    """Show every problem of a refused validation before the error that says so."""
    try:
        yield
    except NotValid as refused:
        from deploytasks.service.preview import ValidationResult

        render.validation_result(out, ValidationResult(refused.checked, [], offline=True))
        raise


def build(out: Output, selection: Selection) -> int:
    """Write every resolved spec of the environment under build/deployments/<env>/."""
    from deploytasks.service import preview

    result = preview.build(selection)
    render.build_result(out, result)
    return exit_code(result.failed)


def validate(out: Output, selection: Selection, *, offline: bool = False) -> int:
    """Check the deployments of an environment without writing anything."""
    from deploytasks.service import preview

    result = preview.validate(selection, offline=offline)
    render.validation_result(out, result)
    return exit_code(result.failed)


def validate_deployment(out: Output, name: str, env: str | None, *, offline: bool) -> int:
    """Validate one deployment by name, finding its environment, flow and kind."""
    from deploytasks.service.selection import find_deployment

    return validate(out, find_deployment(name, env), offline=offline)


def plan(out: Output, selection: Selection) -> int:
    """Dry run: read the server once and show what a deploy would do. Writes nothing."""
    from deploytasks.service import preview

    result = preview.plan(selection)
    render.plan_result(out, result)
    return exit_code(result.failed)


def deploy(out: Output, selection: Selection, *, concurrency: int | None = None,
           require_valid: bool = False, force: bool = False) -> int:
    """Create missing pools, then create and update what the plan says; report each."""
    from deploytasks.service import deploying

    with problems_shown(out):
        result = deploying.deploy(selection, render.DeployProgress(out),
                                  concurrency=concurrency, require_valid=require_valid,
                                  force=force)
    render.deploy_result(out, result)
    return exit_code(result.failed)


def clean(out: Output, options: CleanOptions, confirm: Callable[[str], bool]) -> int:
    """Delete this project's deployments the options select; production asks first."""
    from deploytasks.service import cleaning

    result = cleaning.clean(options, confirm)
    project_view.clean_result(out, result)
    return exit_code(result.failed)


def adopt(out: Output, selection: Selection, *, dry_run: bool, yes: bool,
          confirm: Callable[[str], bool]) -> int:
    """Claim for this project the legacy deployments (the tool's tag, no project) that its
    configuration wants in the environment; production asks first."""
    from deploytasks.service import adopting

    report = adopting.adopt(selection, dry_run=dry_run, yes=yes, confirm=confirm)
    project_view.adopt_result(out, report)
    return exit_code(bool(report.failed))


def check(out: Output, selection: Selection, *, browser: bool = False) -> int:
    """Read the environment's deployments back as the UI shows them; exit 1 on a mismatch."""
    from deploytasks.service import checking

    result = checking.check(selection, browser=browser)
    project_view.check_result(out, result)
    return exit_code(result.failed)
