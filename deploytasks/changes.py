"""Which flows changed since a git ref: the monorepo's "deploy only what changed".

A change inside ``flows/<name>/`` selects that flow; in the files and entrypoints
layouts a change to the flow file or a sibling module it imports selects it. A
change to the shared configuration (``config/``) or to the repository's declared
dependencies selects every flow, one to the shared Dockerfile or root
``.dockerignore`` every flow built from it. Uncommitted and untracked files count
as changed, so a laptop run sees what CI will see after a commit.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from deploytasks.errors import UsageError

if TYPE_CHECKING:
    from deploytasks.flows.discovery import FlowSpec

SHARED = ("config/",)
DEPENDENCY_FILES = ("pyproject.toml", "uv.lock", "poetry.lock")


@dataclass(frozen=True)
class ChangeSet:
    """Flow folders changed since ``ref``; ``everything`` when shared files changed."""

    ref: str
    everything: bool
    folders: frozenset[str]
    files: frozenset[str] = frozenset()  # every changed path, repo-relative

    def selects_flow(self, spec: FlowSpec) -> bool:
        """True when ``spec``'s own files (or shared files it is built from) changed."""
        if self.everything:
            return True
        if spec.layout == "folders":
            prefix = spec.directory.rstrip("/") + "/"
            if any(name.startswith(prefix) for name in self.files):
                return True
        elif self.files & {spec.path, *spec.files.modules}:
            return True
        return spec.files.shared_dockerfile and bool(
            self.files & {spec.files.dockerfile, spec.files.dockerignore})


def changed_since(root: Path, ref: str, flows_dir: str) -> ChangeSet:
    """Compare the work tree with ``ref``; a ref git does not know is a usage error."""
    if ref.startswith("-") or not ref.strip():
        raise UsageError(f"{ref!r} is not a git ref", where="--changed-since",
                         hint="pass a branch, tag or commit such as origin/main")
    _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    files = _git(root, "diff", "--name-only", "--end-of-options", ref, "--") + \
        _git(root, "ls-files", "--others", "--exclude-standard")
    everything = any(name.startswith(SHARED) or name in DEPENDENCY_FILES or
                     (name.startswith("requirements") and name.endswith(".txt")) for name in files)
    prefix = PurePosixPath(flows_dir.strip("/"))
    folders = set()
    for name in files:
        path = PurePosixPath(name)
        if len(path.parts) > len(prefix.parts) + 1 and path.parts[: len(prefix.parts)] == \
                prefix.parts:
            folders.add(path.parts[len(prefix.parts)])
    return ChangeSet(ref, everything, frozenset(folders), frozenset(files))


def _git(root: Path, *args: str) -> list[str]:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        problem = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else \
            f"git {args[0]} failed (is it a ref git knows?)"
        raise UsageError(f"cannot compare with git: {problem}", where="--changed-since",
                         hint="pass a ref git knows (a branch, tag or commit; in CI fetch it "
                              "first, e.g. actions/checkout with fetch-depth: 0)")
    return [line for line in done.stdout.splitlines() if line]
