"""Several repository copies with different projects on one Prefect server.

``make_copy`` makes a copy of the repository's ``config/`` and ``flows/`` in its own
namespace (``isolate_repo``): its own project; a deployment-name suffix that two copies
may share, so that they want the same names; python deployments only (the tests here
are about ownership, not images). A test that must make a deployment appear at the worst
moment of a deploy puts ``api_proxy.ApiProxy`` with a ``hook`` in front of the server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.prefect_helpers import (
    PROJECT_ROOT,
    CliResult,
    Namespace,
    deployments_by_name,
    edit,
    edit_config,
    isolate_repo,
    run_cli,
)

FLOW_FUNCTIONS = {"rpa1": "rpa1_processing_flow", "rpa2": "rpa2_processing_flow",
                  "rpa3": "rpa3_processing_flow"}


@dataclass
class Copy:
    """One repository copy: its folder, its namespace, the server it deploys to."""

    root: Path
    ns: Namespace
    api_url: str

    def cli(self, *args: str, code: int | None = 0, **kwargs: Any) -> CliResult:
        """``invoke <args>`` in the copy; checks the exit code (unless None) and that no
        traceback was printed."""
        result = run_cli(self.root, *args, api_url=self.api_url, **kwargs)
        if code is not None:
            assert result.code == code, result.describe()
        assert "Traceback" not in result.stderr + result.stdout, result.describe()
        return result

    def deployments(self) -> dict[str, Any]:
        """This copy's project's deployments on the server, by name."""
        return deployments_by_name(self.api_url, self.ns.tag)


def make_copy(folder: Path, api_url: str, *, uid: str | None = None,
              project: str | None = None, flows: tuple[str, ...] = ("rpa1", "rpa2", "rpa3"),
              python_only: bool = True) -> Copy:
    """A copy of the repository's config and flows at ``folder`` (only ``flows``)."""
    folder.mkdir(parents=True)
    for name in ("config", "flows"):
        shutil.copytree(PROJECT_ROOT / name, folder / name,
                        ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
    for unwanted in set(FLOW_FUNCTIONS) - set(flows):
        shutil.rmtree(folder / "flows" / unwanted)
        edit_config(folder, lambda data, name=unwanted: data["flows"].pop(name, None))
    namespace = isolate_repo(folder, uid, project)
    if python_only:
        edit_config(folder, lambda data: data["defaults"].update(kinds=["python"]))
    return Copy(folder, namespace, api_url)


def rename_flow(root: Path, old: str, new: str, flow_name: str) -> None:
    """Move ``flows/<old>`` to ``flows/<new>`` with Prefect flow name ``flow_name`` (its
    configuration section moves along)."""
    shutil.move(root / "flows" / old, root / "flows" / new)
    text = (root / "flows" / new / "workflow.py").read_text(encoding="utf-8")
    old_name = text.split('@flow(name="', 1)[1].split('"', 1)[0]
    edit(root / "flows" / new / "workflow.py", f'name="{old_name}"',
                    f'name="{flow_name}"')

    def move(data: dict[str, Any]) -> None:
        if old in data.get("flows", {}):
            data["flows"][new] = data["flows"].pop(old)

    edit_config(root, move)


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (as a throwaway identity) and return its output."""
    done = subprocess.run(["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t",
                           *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def git_init(root: Path) -> str:
    """Make ``root`` a git repository with everything committed; the commit's sha."""
    (root / ".gitignore").write_text("build/\n.deploytasks/\n__pycache__/\n.venv/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return git(root, "rev-parse", "HEAD")


def make_ready(root: Path) -> None:
    """``make`` in the copy: the Makefile, and the project's virtualenv marked as set up."""
    shutil.copy2(PROJECT_ROOT / "Makefile", root / "Makefile")
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    venv = root / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(PROJECT_ROOT / ".venv" / "bin")
    stamp = venv / ".deploytasks-installed"
    stamp.touch()
    later = (root / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (later, later))

