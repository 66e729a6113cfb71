"""``make quickstart``: the main job against the embedded local server, end to end.

Start the local server, discover and validate the flows, build the images and
deploy both kinds (or, without a Docker engine, the Python half and a line
saying why the rest was skipped), then check the result as the UI shows it.
"""

from __future__ import annotations

from collections.abc import Callable

from deploytasks import paths
from deploytasks.console import Output
from deploytasks.deploy import commands
from deploytasks.deployment_settings import Kind
from deploytasks.env.commands import server_up
from deploytasks.env.local_server import LocalServer
from deploytasks.errors import DeployTasksError
from deploytasks.flows.commands import discover_command, validate_command
from deploytasks.service.selection import Selection


def quickstart(out: Output, env: str | None) -> int:
    """Run every step; a failing step is reported and the next ones still run."""
    server_up(out)
    state = LocalServer.for_repo(paths.repo_root()).state()
    codes = [_step(out, "Discover flows", lambda: discover_command(out, env=env)),
             _step(out, "Validate flows", lambda: validate_command(out, env=env))]
    kinds = _kinds(out, env)
    selection = Selection(env, kinds)
    codes.append(_step(out, "Deploy", lambda: commands.deploy(out, selection)))
    codes.append(_step(out, "Check in the UI", lambda: commands.check(out, selection)))
    worst = max(codes)
    out.line("")
    out.line("[green]Quickstart finished.[/]" if worst == 0 else
             f"[yellow]Quickstart finished with problems (exit {worst}); see above.[/]")
    if state is not None:
        _next_steps(out, state.api_url, state.ui_url)
    return worst


def _next_steps(out: Output, api: str, ui: str) -> None:
    out.line(f"Prefect UI: {ui}  (API {api})")
    out.line("Run a flow: start a worker, then trigger a deployment:", style="dim")
    out.line(f"  PREFECT_API_URL={api} .venv/bin/prefect worker start --pool python-pool",
             style="dim", markup=False)
    out.line(f"  PREFECT_API_URL={api} .venv/bin/prefect deployment run "
             "'RPA1ProcessingFlow/rpa1-python-dev'", style="dim", markup=False)
    out.line("Stop the server: make server-down", style="dim")


def _kinds(out: Output, env: str | None) -> tuple[Kind, ...]:
    from deploytasks.images.readiness import prepare_images

    problem = _step_value(out, "Build images", lambda: prepare_images(out, env))
    if problem:
        out.line(f"[yellow]Container deployments skipped:[/] {problem}")
        return ("python",)
    return ("python", "docker")


def _step(out: Output, title: str, body: Callable[[], int]) -> int:
    _title(out, title)
    try:
        return body()
    except DeployTasksError as error:
        out.error(error)
        return error.exit_code


def _step_value(out: Output, title: str, body: Callable[[], str | None]) -> str | None:
    _title(out, title)
    return body()


def _title(out: Output, title: str) -> None:
    out.line("")
    out.line(f"[bold]== {title}[/]")
