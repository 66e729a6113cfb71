"""``build/images/manifest.json``: what was built, from what, and where it was pushed.

Written after every finished image (temp file + ``os.replace``), so an
interrupted run keeps what it finished and a reader never sees half a file.
The deploy side reads it to pin images to their content tag or digest.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deploytasks import paths

MANIFEST_VERSION = 1
MANIFEST_PATH = Path("images") / "manifest.json"


@dataclass
class ImageRecord:
    """One flow's image as last built (and maybe pushed)."""

    flow: str
    image: str
    repository: str
    tag: str
    content_tag: str
    content_hash: str
    image_id: str
    status: str
    built_at: str
    digest: str | None = None
    pushed_at: str | None = None

    @property
    def content_image(self) -> str:
        """The immutable reference ``repository:c-…``."""
        return f"{self.repository}:{self.content_tag}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageRecord:
        """Read a record, ignoring keys a newer version may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def now() -> str:
    """A UTC timestamp for the manifest."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """The manifest of one repository; safe to update from build threads."""

    def __init__(self, path: Path, records: dict[str, ImageRecord] | None = None) -> None:
        self.path = path
        self.records = records or {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, root: Path) -> Manifest:
        """The manifest under ``root/build``; empty when missing or unreadable."""
        path = paths.build_dir(root) / MANIFEST_PATH
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            images = data.get("images", {}) if isinstance(data, dict) else {}
            records = {flow: ImageRecord.from_json(rec) for flow, rec in images.items()}
        except (OSError, ValueError, TypeError):
            records = {}
        return cls(path, records)

    def get(self, flow: str, repository: str | None = None) -> ImageRecord | None:
        """The record of ``flow``, only if it was built for ``repository`` (when given)."""
        record = self.records.get(flow)
        if record is None or (repository is not None and record.repository != repository):
            return None
        return record

    def put(self, record: ImageRecord) -> None:
        """Replace the record of one flow and write the file."""
        with self._lock:
            self.records[record.flow] = record
            self._write()

    def mark_pushed(self, flow: str, digest: str | None) -> None:
        """Record the registry digest of a pushed (or pulled) image."""
        with self._lock:
            record = self.records.get(flow)
            if record is None:
                return
            record.digest = digest
            record.pushed_at = now()
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": MANIFEST_VERSION,
                    "images": {flow: asdict(rec) for flow, rec in sorted(self.records.items())}}
        with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.path.parent, prefix=".manifest-", suffix=".tmp",
                delete=False) as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        try:
            os.replace(handle.name, self.path)
        except OSError:
            Path(handle.name).unlink(missing_ok=True)
            raise
