"""The ``deploy`` collection: build, validate, test (dry run), deploy, clean, check.

Thin wrappers: parse options, call ``deploytasks.deploy.commands`` (imported
inside the body, so listing and completing tasks never imports prefect), which
calls the service (``deploytasks/service/``) and the renderer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from deploytasks import taskrun
from deploytasks.flows.selection import FLOW_HELP, split_flows

__all__ = ["collection", "split_flows"]

if TYPE_CHECKING:
    from deploytasks.service.selection import Selection

ENV = "Environment: development|staging|production (or dev|prod); default DEPLOYMENT_ENV."
FLOW = FLOW_HELP
JSON = "Print one JSON document instead of text."
VERBOSE = "Show more detail (unchanged deployments, files written)."
REGISTRY = "Registry host/project for image names (overrides DOCKER_REGISTRY)."
CONCURRENCY = "Parallel API writes (default prefect.concurrency from config)."
CHANGED = "Only flows whose folder (or config/) changed since this git ref, e.g. origin/main."
COMMON = {"env": ENV, "flow": FLOW, "json": JSON, "verbose": VERBOSE, "registry": REGISTRY,
          "changed_since": CHANGED}
DEPLOY_HELP = {**COMMON, "concurrency": CONCURRENCY}
BOTH = ("python", "docker")


def _selection(env: str, flow: list[str] | None, registry: str = "", changed_since: str = "",
               kinds: tuple[str, ...] = BOTH) -> Selection:
    from deploytasks.service.selection import Selection

    return Selection(env or None, kinds, split_flows(flow),  # type: ignore[arg-type]
                     registry or None, changed_since or None)


@task(help=COMMON, iterable=["flow"], auto_shortflags=False)
def build(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
          changed_since: str = "", json: bool = False, verbose: bool = False) -> None:
    """Write every deployment spec of an environment under build/deployments/<env>/."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow, registry, changed_since)
    taskrun.run(lambda out: commands.build(out, selection), json=json, verbose=verbose)


@task(help={**COMMON, "offline": "Skip the checks that need the Prefect server."},
      iterable=["flow"], auto_shortflags=False)
def validate(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
             changed_since: str = "", offline: bool = False, json: bool = False,
             verbose: bool = False) -> None:
    """Validate the deployments of an environment without writing anything."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow, registry, changed_since)
    taskrun.run(lambda out: commands.validate(out, selection, offline=offline),
                json=json, verbose=verbose)


@task(name="test", help=COMMON, iterable=["flow"], auto_shortflags=False)
def plan(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
         changed_since: str = "", json: bool = False, verbose: bool = False) -> None:
    """Dry run: show what a deploy would create, update, leave, or find orphaned."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow, registry, changed_since)
    taskrun.run(lambda out: commands.plan(out, selection), json=json, verbose=verbose)


FORCE = ("Overwrite deployments edited on the server since the last deploy (drift), which "
         "protected environments otherwise refuse.")
DEPLOY_HELP = {**DEPLOY_HELP, "force": FORCE}


def _deploy(kinds: tuple[str, ...], env: str, flow: list[str] | None, registry: str,
            changed_since: str, concurrency: int, force: bool, json: bool,
            verbose: bool) -> None:
    from deploytasks.deploy import commands

    selection = _selection(env, flow, registry, changed_since, kinds)
    taskrun.run(lambda out: commands.deploy(out, selection, concurrency=concurrency or None,
                                            force=force), json=json, verbose=verbose)


@task(name="python", help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_python(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
                  changed_since: str = "", concurrency: int = 0, force: bool = False,
                  json: bool = False, verbose: bool = False) -> None:
    """Deploy the Python (process) deployments of an environment."""
    _deploy(("python",), env, flow, registry, changed_since, concurrency, force, json, verbose)


@task(name="containers", help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_containers(c: Context, env: str = "", flow: list[str] | None = None,
                      registry: str = "", changed_since: str = "", concurrency: int = 0,
                      force: bool = False, json: bool = False, verbose: bool = False) -> None:
    """Deploy the Docker deployments of an environment."""
    _deploy(("docker",), env, flow, registry, changed_since, concurrency, force, json, verbose)


@task(name="all", help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_all(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
               changed_since: str = "", concurrency: int = 0, force: bool = False,
               json: bool = False, verbose: bool = False) -> None:
    """Deploy the Python and Docker deployments of an environment."""
    _deploy(BOTH, env, flow, registry, changed_since, concurrency, force, json, verbose)


@task(help={"pattern": "Glob on deployment names, e.g. 'rpa1-*'; a deployment's exact name "
                       "matches only that deployment. Never empty.",
            "all_": "Delete every deployment of this project in the environment (needed when "
                    "there is no --pattern or --orphans).",
            "env": "Environment (default DEPLOYMENT_ENV, then development); 'all' for every "
                   "environment.",
            "orphans": "Only deployments whose flow is gone from the repository.",
            "force": "Let --orphans delete even when no flows were found, or more than "
                     "clean.max_orphan_share of the project.",
            "dry_run": "Show what would be deleted; delete nothing.",
            "yes": "Do not ask before deleting protected-environment (production) deployments.",
            "json": JSON}, auto_shortflags=False)
def clean(c: Context, pattern: str | None = None, all_: bool = False, env: str = "",
          orphans: bool = False, force: bool = False, dry_run: bool = False, yes: bool = False,
          json: bool = False) -> None:
    """Remove this project's deployments (never hand-made or other projects' ones)."""
    from deploytasks.console.prompt import confirm
    from deploytasks.deploy import commands
    from deploytasks.service.cleaning import CleanOptions

    options = CleanOptions(env or None, pattern, orphans, all_, force, dry_run, yes)
    taskrun.run(lambda out: commands.clean(out, options, confirm), json=json)


@task(help={"env": ENV, "flow": FLOW, "json": JSON,
            "dry_run": "Show what would be claimed; change nothing.",
            "yes": "Do not ask before claiming protected-environment (production) deployments."},
      iterable=["flow"], auto_shortflags=False)
def adopt(c: Context, env: str = "", flow: list[str] | None = None, dry_run: bool = False,
          yes: bool = False, json: bool = False) -> None:
    """Claim for this project the legacy deployments (no project tag) its config wants."""
    from deploytasks.console.prompt import confirm
    from deploytasks.deploy import commands

    selection = _selection(env, flow)
    taskrun.run(lambda out: commands.adopt(out, selection, dry_run=dry_run, yes=yes,
                                           confirm=confirm), json=json)


@task(help={"env": ENV, "flow": FLOW, "json": JSON, "verbose": VERBOSE,
            "browser": "Also open the UI in headless Chromium and save a screenshot."},
      iterable=["flow"], auto_shortflags=False)
def check(c: Context, env: str = "", flow: list[str] | None = None, browser: bool = False,
          json: bool = False, verbose: bool = False) -> None:
    """Verify that the environment's deployments appear correctly in the Prefect UI."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow)
    taskrun.run(lambda out: commands.check(out, selection, browser=browser),
                json=json, verbose=verbose)


def collection() -> Collection:
    """The ``deploy`` collection."""
    return Collection("deploy", build, validate, plan, deploy_python, deploy_containers,
                      deploy_all, clean, adopt, check)
