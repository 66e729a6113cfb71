"""The ``deploy`` collection: build, validate, test (dry run), deploy, clean, check.

Thin wrappers: parse options, call ``deploytasks.deploy.commands`` (imported
inside the body, so listing and completing tasks never imports prefect).
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from deploytasks import taskrun

ENV = "Environment: development|staging|production (or dev|prod); default DEPLOYMENT_ENV."
FLOW = "Limit to this flow (folder name); repeat for more."
JSON = "Print one JSON document instead of text."
VERBOSE = "Show more detail (unchanged deployments, files written)."
REGISTRY = "Registry host/project for image names (overrides DOCKER_REGISTRY)."
CONCURRENCY = "Parallel API writes (default prefect.concurrency from config)."
COMMON = {"env": ENV, "flow": FLOW, "json": JSON, "verbose": VERBOSE, "registry": REGISTRY}


def _selection(env: str, flow: list[str], registry: str = "", kinds: tuple[str, ...] = ()
               ) -> object:
    from deploytasks.deploy.commands import Selection

    return Selection(env or None, kinds or ("python", "docker"), tuple(flow),  # type: ignore[arg-type]
                     registry or None)


@task(help=COMMON, iterable=["flow"], auto_shortflags=False)
def build(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
          json: bool = False, verbose: bool = False) -> None:
    """Write every deployment spec of an environment under build/deployments/<env>/."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow or [], registry)
    taskrun.run(lambda out: commands.build(out, selection), json=json, verbose=verbose)  # type: ignore[arg-type]


@task(help={**COMMON, "offline": "Skip the checks that need the Prefect server."},
      iterable=["flow"], auto_shortflags=False)
def validate(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
             offline: bool = False, json: bool = False, verbose: bool = False) -> None:
    """Validate the deployments of an environment without writing anything."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow or [], registry)
    taskrun.run(lambda out: commands.validate(out, selection, offline=offline),  # type: ignore[arg-type]
                json=json, verbose=verbose)


@task(name="test", help=COMMON, iterable=["flow"], auto_shortflags=False)
def plan(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
         json: bool = False, verbose: bool = False) -> None:
    """Dry run: show what a deploy would create, update, leave, or find orphaned."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow or [], registry)
    taskrun.run(lambda out: commands.plan(out, selection), json=json, verbose=verbose)  # type: ignore[arg-type]


def _deploy_task(kinds: tuple[str, ...], env: str, flow: list[str], registry: str,
                 concurrency: int, json: bool, verbose: bool) -> None:
    from deploytasks.deploy import commands

    selection = _selection(env, flow, registry, kinds)
    taskrun.run(lambda out: commands.deploy(out, selection, concurrency=concurrency or None),  # type: ignore[arg-type]
                json=json, verbose=verbose)


DEPLOY_HELP = {**COMMON, "concurrency": CONCURRENCY}


@task(name="python", help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_python(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
                  concurrency: int = 0, json: bool = False, verbose: bool = False) -> None:
    """Deploy the Python (process) deployments of an environment."""
    _deploy_task(("python",), env, flow or [], registry, concurrency, json, verbose)


@task(name="containers", help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_containers(c: Context, env: str = "", flow: list[str] | None = None,
                      registry: str = "", concurrency: int = 0, json: bool = False,
                      verbose: bool = False) -> None:
    """Deploy the Docker deployments of an environment."""
    _deploy_task(("docker",), env, flow or [], registry, concurrency, json, verbose)


@task(name="all", help=DEPLOY_HELP, iterable=["flow"], auto_shortflags=False)
def deploy_all(c: Context, env: str = "", flow: list[str] | None = None, registry: str = "",
               concurrency: int = 0, json: bool = False, verbose: bool = False) -> None:
    """Deploy the Python and Docker deployments of an environment."""
    _deploy_task(("python", "docker"), env, flow or [], registry, concurrency, json, verbose)


@task(help={"pattern": "Glob on deployment names, e.g. 'rpa1-*' (default: all managed).",
            "env": "Only deployments of this environment.",
            "orphans": "Only deployments whose flow is gone from the repository.",
            "dry_run": "Show what would be deleted; delete nothing.",
            "yes": "Do not ask before deleting protected-environment (production) deployments.",
            "json": JSON}, auto_shortflags=False)
def clean(c: Context, pattern: str = "", env: str = "", orphans: bool = False,
          dry_run: bool = False, yes: bool = False, json: bool = False) -> None:
    """Remove managed deployments (never ones made by hand) matching a pattern."""
    from deploytasks.console.prompt import confirm
    from deploytasks.deploy import commands

    taskrun.run(lambda out: commands.clean(out, env=env or None, pattern=pattern or None,
                                           orphans=orphans, dry_run=dry_run, yes=yes,
                                           confirm=confirm), json=json)


@task(help={"env": ENV, "flow": FLOW, "json": JSON, "verbose": VERBOSE,
            "browser": "Also open the UI in headless Chromium and save a screenshot."},
      iterable=["flow"], auto_shortflags=False)
def check(c: Context, env: str = "", flow: list[str] | None = None, browser: bool = False,
          json: bool = False, verbose: bool = False) -> None:
    """Verify that the environment's deployments appear correctly in the Prefect UI."""
    from deploytasks.deploy import commands

    selection = _selection(env, flow or [])
    taskrun.run(lambda out: commands.check(out, selection, browser=browser),  # type: ignore[arg-type]
                json=json, verbose=verbose)


def collection() -> Collection:
    """The ``deploy`` collection."""
    return Collection("deploy", build, validate, plan, deploy_python, deploy_containers,
                      deploy_all, clean, check)
