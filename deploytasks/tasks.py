"""The root Invoke namespace: collections flows, deploy, images, env, plus ``makefile``.

Nothing imported here may import prefect, docker, python-on-whales or rich:
every TAB press of shell completion loads this namespace.
"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from deploytasks import taskrun
from deploytasks.deploy import tasks as deploy_tasks
from deploytasks.env import tasks as env_tasks
from deploytasks.flows import tasks as flows_tasks
from deploytasks.images import tasks as images_tasks


@task(help={"check": "Do not write; exit 1 and show the diff when the Makefile is stale."},
      auto_shortflags=False)
def makefile(c: Context, check: bool = False) -> None:
    """Regenerate the Makefile from the table of documented targets."""
    from deploytasks import makefile_commands

    taskrun.run(lambda out: makefile_commands.write_or_check(out, namespace(), check=check))


@task(help={"env": "Environment to deploy to (default development)."}, auto_shortflags=False)
def quickstart(c: Context, env: str = "") -> None:
    """Start the local server, then discover, validate, build, deploy and check."""
    from deploytasks.quickstart import quickstart as run_quickstart

    taskrun.run(lambda out: run_quickstart(out, env or None))


def namespace() -> Collection:
    """The whole namespace, built fresh (tests use it too)."""
    ns = Collection(makefile, quickstart)
    ns.add_collection(flows_tasks.collection())
    ns.add_collection(deploy_tasks.collection())
    ns.add_collection(images_tasks.collection())
    ns.add_collection(env_tasks.collection())
    return ns


ns = namespace()
