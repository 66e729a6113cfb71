"""The ``env`` collection: the embedded Prefect server and the merged configuration."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from deploytasks import taskrun
from deploytasks.flows.selection import FLOW_HELP, split_flows

JSON_HELP = "Print one JSON document instead of text."


@task(help={"port": "Port to listen on (default 4200, or a free one).", "json": JSON_HELP},
      auto_shortflags=False)
def up(c: Context, port: int = 0, json: bool = False) -> None:
    """Start the embedded local Prefect server (SQLite) and wait until it is healthy."""
    from deploytasks.env import commands

    taskrun.run(lambda out: commands.server_up(out, port or None), json=json)


@task(help={"json": JSON_HELP}, auto_shortflags=False)
def down(c: Context, json: bool = False) -> None:
    """Stop the embedded local Prefect server."""
    from deploytasks.env import commands

    taskrun.run(commands.server_down, json=json)


@task(help={"json": JSON_HELP}, auto_shortflags=False)
def status(c: Context, json: bool = False) -> None:
    """Report whether the embedded local Prefect server runs, and where."""
    from deploytasks.env import commands

    taskrun.run(commands.server_status, json=json)


@task(help={"env": "Environment: development|staging|production (or dev|prod).",
            "json": JSON_HELP}, auto_shortflags=False)
def show(c: Context, env: str = "", json: bool = False) -> None:
    """Print the merged configuration, each value with where it came from."""
    from deploytasks.env import commands

    taskrun.run(lambda out: commands.show_config(out, env or None), json=json)


DEPLOY_HELP = {"flow": FLOW_HELP,
               "registry": "Registry host/project for image names.",
               "json": JSON_HELP, "verbose": "Show more detail."}


def _deploy_env(env: str, flow: list[str], registry: str, json: bool, verbose: bool,
                production: bool = False, allow_dirty: bool = False,
                force: bool = False) -> None:
    from deploytasks.env import commands

    taskrun.run(lambda out: commands.deploy_environment(
        out, env, split_flows(flow), registry or None, production=production,
        allow_dirty=allow_dirty, force=force), json=json, verbose=verbose)


@task(help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_dev(c: Context, flow: list[str] | None = None, registry: str = "",
               json: bool = False, verbose: bool = False) -> None:
    """Deploy everything (Python and Docker) to development."""
    _deploy_env("development", flow or [], registry, json, verbose)


@task(help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_staging(c: Context, flow: list[str] | None = None, registry: str = "",
                   json: bool = False, verbose: bool = False) -> None:
    """Deploy everything (Python and Docker) to staging."""
    _deploy_env("staging", flow or [], registry, json, verbose)


ALLOW_DIRTY = "Deploy even with uncommitted changes."
FORCE = "Overwrite deployments edited on the server since the last deploy (drift)."


@task(help={**DEPLOY_HELP, "allow_dirty": ALLOW_DIRTY, "force": FORCE},
      iterable=["flow"], auto_shortflags=False)
def deploy_prod(c: Context, flow: list[str] | None = None, registry: str = "",
                allow_dirty: bool = False, force: bool = False, json: bool = False,
                verbose: bool = False) -> None:
    """Deploy everything to production, only if validation passes and the tree is clean."""
    _deploy_env("production", flow or [], registry, json, verbose, production=True,
                allow_dirty=allow_dirty, force=force)


@task(name="promote", help={"from_": "Environment whose running deployments to promote.",
                            "to": "Environment to deploy them to.",
                            "flow": FLOW_HELP,
                            "dry_run": "Show the plan only; write nothing.",
                            "allow_dirty": "Promote onto a protected environment even with "
                                           "uncommitted changes (python deployments still "
                                           "need the source's exact commit).",
                            "force": FORCE, "json": JSON_HELP, "verbose": "Show more detail."},
      iterable=["flow"], auto_shortflags=False)
def promote(c: Context, from_: str = "staging", to: str = "production",
            flow: list[str] | None = None, dry_run: bool = False, allow_dirty: bool = False,
            force: bool = False, json: bool = False, verbose: bool = False) -> None:
    """Deploy to one environment exactly what another one runs (versions, images, code)."""
    from deploytasks.env import commands
    from deploytasks.service.promoting import PromoteOptions

    options = PromoteOptions(split_flows(flow), dry_run, allow_dirty, force)
    taskrun.run(lambda out: commands.promote(out, from_, to, options), json=json,
                verbose=verbose)


def collection() -> Collection:
    """The ``env`` collection."""
    return Collection("env", up, down, status, show, deploy_dev, deploy_staging, deploy_prod,
                      promote)


