"""The bodies of the ``env`` tasks, callable without Invoke (the CLI uses them too)."""

from __future__ import annotations

from deploytasks import paths
from deploytasks.config import ConfigurationManager
from deploytasks.console import Output
from deploytasks.console import env as render
from deploytasks.env.local_server import LocalServer


def server_up(out: Output, port: int | None = None) -> int:
    """Start (or find) the embedded server and say where its API and UI are."""
    server = LocalServer.for_repo(paths.repo_root())
    already = server.state() is not None
    if not already:
        out.line("Starting the local Prefect server (SQLite) …")
    state = server.start(port)
    render.server_state(out, state, started=not already)
    return 0


def server_down(out: Output) -> int:
    """Stop the embedded server if it runs."""
    stopped = LocalServer.for_repo(paths.repo_root()).stop()
    render.server_stopped(out, stopped)
    return 0


def server_status(out: Output) -> int:
    """Report the embedded server; exit 0 either way (it is information)."""
    state = LocalServer.for_repo(paths.repo_root()).state()
    render.server_status(out, state)
    return 0


def show_config(out: Output, env: str | None) -> int:
    """Print the merged configuration of ``env`` with provenance."""
    config = ConfigurationManager().load(env, profile=True)
    render.config_values(out, config)
    return 0


def deploy_environment(out: Output, env: str, flows: tuple[str, ...], registry: str | None, *,
                       production: bool = False, allow_dirty: bool = False,
                       force: bool = False) -> int:
    """Deploy both kinds to a fixed environment; production is validated and clean first,
    and drifted deployments are refused there unless ``force``."""
    from deploytasks.deploy import commands

    if production and not allow_dirty:
        commands.refuse_dirty_tree(paths.repo_root())
    selection = commands.Selection(env, flows=flows, registry=registry)
    return commands.deploy(out, selection, require_valid=production, force=force)
