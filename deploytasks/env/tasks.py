"""The ``env`` collection: the embedded Prefect server and the merged configuration."""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from deploytasks import taskrun

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


def collection() -> Collection:
    """The ``env`` collection (deploy-dev/-staging/-prod join it from the deploy package)."""
    return Collection("env", up, down, status, show)


