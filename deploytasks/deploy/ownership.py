"""Whose a deployment is, read from its tags.

Many repositories share one Prefect server. Every deployment deploytasks writes
carries the tool's tag (``managed-by:deploytasks``) *and* its project's tag
(``project:<name>``); only deployments carrying both are this project's. One with
the tool's tag and no project tag was written by a version of deploytasks that
had no projects (*legacy*): it is claimed only by ``deploy.adopt``, never
implicitly. Everything else — another project's, or one made by hand — is a
conflict when it holds a name we want, and is never written or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from deploytasks.settings import is_reserved_tag

if TYPE_CHECKING:
    from deploytasks.config import ResolvedConfig

PROJECT_PREFIX = "project:"
Owner = Literal["ours", "legacy", "project", "hand-made"]


@dataclass(frozen=True)
class Ownership:
    """The tool's tag and this repository's project."""

    tool_tag: str
    project: str

    @property
    def project_tag(self) -> str:
        return f"{PROJECT_PREFIX}{self.project}"

    @property
    def tags(self) -> tuple[str, str]:
        """The tags that make an object this project's (server-side filters use both)."""
        return (self.tool_tag, self.project_tag)

    def deployment_tags(self, env_short: str, kind: str) -> tuple[str, ...]:
        """The reserved tags every deployment of this project carries, in this order."""
        return (*self.tags, f"env:{env_short}", f"type:{kind}")

    def owner(self, tags: Iterable[str]) -> Owner:
        """Whose the object with these tags is, as this project sees it."""
        tags = set(tags)
        if self.tool_tag not in tags:
            return "hand-made"
        projects = {t for t in tags if t.startswith(PROJECT_PREFIX)}
        if not projects:
            return "legacy"
        return "ours" if projects == {self.project_tag} else "project"

    def owns(self, tags: Iterable[str]) -> bool:
        return self.owner(tags) == "ours"

    def describe(self, tags: Iterable[str]) -> str:
        """Whose it is, in words, for a conflict message."""
        tags = list(tags)
        owner = self.owner(tags)
        if owner == "project":
            others = sorted(t.removeprefix(PROJECT_PREFIX) for t in tags
                            if t.startswith(PROJECT_PREFIX) and t != self.project_tag)
            return f"project '{', '.join(others)}'"
        if owner == "legacy":
            return f"legacy ('{self.tool_tag}' without a project tag)"
        return "hand-made" if owner == "hand-made" else f"project '{self.project}'"


def without_reserved(tags: Iterable[str], ownership: Ownership) -> list[str]:
    """``tags`` minus everything the tool sets itself."""
    return [t for t in tags if not is_reserved_tag(t, ownership.tool_tag)]


def ownership(config: ResolvedConfig) -> Ownership:
    """The ownership of a configuration (``prefect.ownership_tag`` and ``project``)."""
    return Ownership(config.settings.prefect.ownership_tag, config.settings.project)
