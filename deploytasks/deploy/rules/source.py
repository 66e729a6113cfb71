"""Rules about where remote workers get the code (``source.git``): the commit being
deployed must be one they can fetch, and it must be the code of this checkout.

A protected environment refuses python deployments whose commit is not on the configured
remote branch (a worker would fail to fetch it, or run code nobody reviewed there); other
environments deploy them with a warning. A dirty tree cannot be pinned: its changes are
in no commit, and the warning says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.gitpin import GitPin
from deploytasks.findings import WARNING, Finding

SETTING = "source.git"


@dataclass(frozen=True)
class PinVerdict:
    """``refusal`` (reason, hint): the python deployments are skipped; else ``warnings``."""

    refusal: tuple[str, str] | None = None
    warnings: list[Finding] = field(default_factory=list)


def pinned_source(config: ResolvedConfig, pin: GitPin) -> PinVerdict:
    """What the commit workers will clone means for this deploy."""
    git = config.settings.source.git
    assert git is not None
    if pin.commit is None:
        return PinVerdict(warnings=[_warning(
            "this checkout is not a git work tree: workers clone the head of "
            f"{git.branch}, which may be other code", "deploy from a clone of the repository")])
    warnings = []
    if pin.dirty:
        warnings.append(_warning(
            f"the work tree has uncommitted changes: workers clone commit {pin.commit[:12]} "
            "without them", "commit and push them, then deploy again"))
    if not pin.on_remote:
        remote, _, branch = pin.remote_branch.partition("/")
        reason = (f"commit {pin.commit[:12]} is not on {pin.remote_branch} (as last fetched): "
                  "a worker cloning the repository cannot fetch it")
        hint = f"push it (git push {remote} HEAD:{branch}), then deploy again"
        if config.env.protected:
            return PinVerdict(refusal=(reason, hint), warnings=warnings)
        warnings.append(_warning(reason, hint))
    return PinVerdict(warnings=warnings)


def _warning(message: str, hint: str) -> Finding:
    return Finding(WARNING, None, None, message, hint, kind="python", setting=SETTING)
