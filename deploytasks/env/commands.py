"""The bodies of the ``env`` tasks, callable without Invoke (the CLI uses them too).

The embedded server's, and the fixed-environment deploys and promotion: each calls
the core (``env/local_server.py``, ``deploytasks/service/``), hands the result to
the renderer and returns the exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploytasks import paths
from deploytasks.config import ConfigurationManager
from deploytasks.console import Output
from deploytasks.console import env as render
from deploytasks.env.local_server import LocalServer

if TYPE_CHECKING:
    from deploytasks.service.promoting import PromoteOptions


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
    from deploytasks.service.deploying import refuse_dirty_tree
    from deploytasks.service.selection import Selection

    if production and not allow_dirty:
        refuse_dirty_tree(paths.repo_root())
    selection = Selection(env, flows=flows, registry=registry)
    return commands.deploy(out, selection, require_valid=production, force=force)


def promote(out: Output, source_env: str, target_env: str,
            options: PromoteOptions | None = None) -> int:
    """Deploy to ``target_env`` exactly what ``source_env`` runs (or, dry, show the plan); a
    protected target gets ``env.deploy-prod``'s guards (validation, a clean tree, conflicts
    and drift)."""
    from deploytasks.console import deploy as view
    from deploytasks.deploy.commands import exit_code, problems_shown
    from deploytasks.service import promoting

    with problems_shown(out):
        result = promoting.promote(source_env, target_env, options, view.DeployProgress(out))
    view.promote_result(out, result)
    return exit_code(result.failed)
