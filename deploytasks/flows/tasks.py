"""The ``flows`` collection: ``flows.discover``, ``flows.validate`` and ``flows.import``.

Thin wrappers over ``deploytasks.flows.commands``. Nothing here imports prefect,
rich or docker at module level: every TAB press of shell completion loads it.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from deploytasks import taskrun
from deploytasks.flows.selection import FLOW_HELP

VERBOSE_HELP = "Also show each flow's parameters, files, description and warnings."
JSON_HELP = "Print one JSON document instead of text."
ENV_HELP = "Environment whose configuration applies (default DEPLOYMENT_ENV or development)."
STRICT_HELP = "Fail (exit 1) on warnings too, not only on errors."
CHANGED_HELP = "Only flows whose folder (or config/) changed since this git ref, e.g. origin/main."


@task(help={"flow": FLOW_HELP, "verbose": VERBOSE_HELP, "json": JSON_HELP, "env": ENV_HELP,
            "changed_since": CHANGED_HELP}, iterable=["flow"], auto_shortflags=False)
def discover(c: Context, flow: list[str] | None = None, verbose: bool = False, json: bool = False,
             env: str = "", changed_since: str = "") -> None:
    """Discover the flows in the repository and show what each one deploys."""
    from deploytasks.flows import commands

    taskrun.run(lambda out: commands.discover_command(
        out, flow=flow, verbose=verbose, json=json, env=env or None,
        changed_since=changed_since or None,
    ), json=json, verbose=verbose)


@task(help={"flow": FLOW_HELP, "verbose": VERBOSE_HELP, "json": JSON_HELP, "env": ENV_HELP,
            "strict": STRICT_HELP, "changed_since": CHANGED_HELP}, iterable=["flow"],
      auto_shortflags=False)
def validate(c: Context, flow: list[str] | None = None, verbose: bool = False, json: bool = False,
             strict: bool = False, env: str = "", changed_since: str = "") -> None:
    """Validate the flows: decorator, dependencies, Dockerfile and env files."""
    from deploytasks.flows import commands

    taskrun.run(lambda out: commands.validate_command(
        out, flow=flow, verbose=verbose, json=json, strict=strict, env=env or None,
        changed_since=changed_since or None,
    ), json=json, verbose=verbose)


@task(name="import", help={
    "from": "The prefect.yaml to import (default prefect.yaml).",
    "write": "Merge the settings into config/deployment-config.yaml (default: a dry run).",
    "json": JSON_HELP, "env": ENV_HELP}, auto_shortflags=False)
def import_(c: Context, from_: str = "prefect.yaml", write: bool = False, json: bool = False,
            env: str = "") -> None:
    """Import the deployments of a prefect.yaml into the configuration (dry run by default)."""
    from deploytasks.migrate import commands

    taskrun.run(lambda out: commands.import_command(
        out, source=from_, write=write, json=json, env=env or None), json=json)


def collection() -> Collection:
    """The ``flows`` collection."""
    return Collection("flows", discover, validate, import_)


ns = collection()
