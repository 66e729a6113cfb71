"""The ``images`` collection: build, push and pull each flow's image; build the base image.

Nothing here imports Docker, prefect or rich: ``invoke --list`` and tab
completion stay fast. The bodies forward to ``deploytasks.images.commands``.
"""

from __future__ import annotations

from invoke import Collection, Context, task

from deploytasks.flows.selection import FLOW_HELP
from deploytasks.taskrun import run

ENV_HELP = "environment name, short name or alias (default: DEPLOYMENT_ENV or development)"
REGISTRY_HELP = "registry host[:port][/path] (default: DOCKER_REGISTRY; empty = local only)"
JSON_HELP = "print one JSON document on stdout instead of text"
VERBOSE_HELP = "stream the build / registry log"


@task(help={"env": ENV_HELP, "registry": REGISTRY_HELP, "flow": FLOW_HELP,
            "no-cache": "build every image from scratch, even when its content is unchanged",
            "verbose": VERBOSE_HELP, "json": JSON_HELP},
      iterable=["flow"], auto_shortflags=False)
def build(c: Context, env: str | None = None, registry: str | None = None,
          flow: list[str] | None = None, no_cache: bool = False, verbose: bool = False,
          json: bool = False) -> None:
    """Build the Docker image of every flow that has a Dockerfile."""
    from deploytasks.images import commands

    run(lambda out: commands.build(out, env=env, registry=registry, flow=flow,
                                   no_cache=no_cache), json=json, verbose=verbose)


@task(help={"env": ENV_HELP, "registry": REGISTRY_HELP, "flow": FLOW_HELP,
            "verbose": VERBOSE_HELP, "json": JSON_HELP},
      iterable=["flow"], auto_shortflags=False)
def push(c: Context, env: str | None = None, registry: str | None = None,
         flow: list[str] | None = None, verbose: bool = False, json: bool = False) -> None:
    """Push the flows' images (content tag and tag) to the registry."""
    from deploytasks.images import commands

    run(lambda out: commands.push(out, env=env, registry=registry, flow=flow),
        json=json, verbose=verbose)


@task(help={"env": ENV_HELP, "registry": REGISTRY_HELP, "flow": FLOW_HELP,
            "verbose": VERBOSE_HELP, "json": JSON_HELP},
      iterable=["flow"], auto_shortflags=False)
def pull(c: Context, env: str | None = None, registry: str | None = None,
         flow: list[str] | None = None, verbose: bool = False, json: bool = False) -> None:
    """Pull the flows' images from the registry."""
    from deploytasks.images import commands

    run(lambda out: commands.pull(out, env=env, registry=registry, flow=flow),
        json=json, verbose=verbose)


@task(help={"tag": "image tag to build (default: deploytasks/prefect-base:<prefect>-python3.11)",
            "force": "rebuild even when the engine already has the tag",
            "verbose": "stream debootstrap, pip and build output", "json": JSON_HELP},
      auto_shortflags=False)
def base(c: Context, tag: str | None = None, force: bool = False, verbose: bool = False,
         json: bool = False) -> None:
    """Build the Prefect base image from Debian without Docker Hub (cached by tag)."""
    from deploytasks.images import commands

    run(lambda out: commands.base(out, tag=tag, force=force), json=json, verbose=verbose)


def collection() -> Collection:
    """The ``images`` collection."""
    return Collection("images", build, push, pull, base)


ns = collection()
