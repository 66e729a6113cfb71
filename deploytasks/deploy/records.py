"""What deploytasks last applied to each deployment, recorded on the server.

Drift is a server edit made since our last apply (a parameter changed in the
UI, say). Comparing the server with the repository cannot tell that from an
ordinary change of the configuration, and a local file cannot either: CI
machines start fresh. So after every successful create or update the tool
writes one Prefect Variable per deployment, named after the deployment's id,
holding a short hash of each compared field as applied; planning reads all of
the project's records in one paged read and names, per deployment, the fields
whose server value no longer matches its record.

The record also keeps the git commit the deployment was made from (and whether
the tree was dirty), which ``env.promote`` needs to promote python deployments
exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deploytasks.deploy.fields import kept, normal

RECORD_PREFIX = "deploytasks-applied-"
FORMAT = 1
HASH_CHARS = 16  # 64 bits: enough to notice an edit, short enough to stay far below 5,000
MESSAGE_CHARS = 200  # a commit message's first line, cut: the record stays small


@dataclass(frozen=True)
class SourceState:
    """The git commit a run deploys from, whether the work tree has changes, and — for
    the version info — the branch, the remote URL (credentials removed) and the commit
    message's first line, when known."""

    commit: str | None = None
    dirty: bool = False
    branch: str | None = None
    url: str | None = None
    message: str | None = None

    def version_info(self, version: str | None) -> dict[str, Any]:
        """Prefect's version info as its own git versioning builds it (``vcs:git``:
        version, commit_sha, message, branch, repository, url); without a commit or a
        remote, ``prefect:simple`` (what Prefect falls back to)."""
        if self.commit and self.url:
            return {"type": "vcs:git", "version": version or self.commit[:8],
                    "commit_sha": self.commit, "message": self.message or "",
                    "branch": self.branch or "", "repository": repository_of(self.url),
                    "url": self.url}
        return {"type": "prefect:simple", "version": version or "", "branch": self.branch,
                "url": None}


def repository_of(url: str) -> str:
    """``owner/name`` from a remote URL, as Prefect's git versioning takes it."""
    from urllib.parse import urlparse

    path = urlparse(url).path if "://" in url else url.partition(":")[2]
    path = path.strip("/")
    return path[:-4] if path.endswith(".git") else path


@dataclass(frozen=True)
class AppliedRecord:
    """One deployment's record: the hash of each field as we applied it."""

    deployment_id: str
    name: str
    hashes: dict[str, str] = field(default_factory=dict)
    source: SourceState = field(default_factory=SourceState)

    @property
    def variable_name(self) -> str:
        return record_name(self.deployment_id)

    def value(self) -> dict[str, Any]:
        """The Variable's JSON value (a few hundred characters)."""
        source = self.source
        return {"format": FORMAT, "deployment": self.name, "commit": source.commit,
                "dirty": source.dirty, "branch": source.branch, "url": source.url,
                "message": (source.message or "")[:MESSAGE_CHARS] or None,
                "fields": self.hashes}

    def drifted(self, server: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
        """Fields someone changed on the server since we applied them, and that a deploy
        would now overwrite (a server value that already equals the wanted one is not)."""
        return [name for name, recorded in self.hashes.items()
                if name in server and field_hash(server[name]) != recorded
                and normal(server[name]) != normal(wanted.get(name))]


def kept_changes(record: AppliedRecord | None, wanted: Mapping[str, Any]) -> set[str]:
    """The kept fields (``paused``) the configuration did not change since the last apply:
    their server state, perhaps set in the UI, stays. Without a record of the field, what
    was applied counts as its ``unset`` value (a first deploy of a paused deployment made
    before the field existed leaves it paused unless the configuration says ``paused``)."""
    recorded = record.hashes if record is not None else {}
    return {field.name for field in kept()
            if recorded.get(field.name, field_hash(field.unset)) == field_hash(
                wanted.get(field.name))}


def record_name(deployment_id: str) -> str:
    """The Variable name of a deployment's record (Prefect allows a-z, 0-9, - and _)."""
    return f"{RECORD_PREFIX}{deployment_id.lower()}"


def field_hash(value: Any) -> str:
    """A short, spelling-independent hash of one field's value."""
    text = json.dumps(normal(value), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def record_of(deployment_id: str, name: str, applied: Mapping[str, Any],
              source: SourceState) -> AppliedRecord:
    """The record of ``applied`` (a spec's comparable fields) on one deployment."""
    return AppliedRecord(deployment_id, name, {k: field_hash(v) for k, v in applied.items()},
                         source)


def parse_record(variable_name: str, value: Any) -> AppliedRecord | None:
    """A record read back from a Variable; None when it is not one of ours or unreadable."""
    if not variable_name.startswith(RECORD_PREFIX) or not isinstance(value, dict):
        return None
    hashes = value.get("fields")
    if value.get("format") != FORMAT or not isinstance(hashes, dict):
        return None
    return AppliedRecord(variable_name.removeprefix(RECORD_PREFIX), str(value.get("deployment")),
                         {str(k): str(v) for k, v in hashes.items()}, _source_of(value))


def _source_of(value: dict[str, Any]) -> SourceState:
    def text(key: str) -> str | None:
        item = value.get(key)
        return item if isinstance(item, str) else None

    return SourceState(text("commit"), bool(value.get("dirty")), text("branch"), text("url"),
                       text("message"))
