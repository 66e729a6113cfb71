"""Remember parameter schemas between runs, keyed by the flow's source.

Deriving a schema costs ~10 ms a flow (Prefect's generator builds a pydantic
model); an unchanged flow's schema is read back instead. The key covers the
source text, the function, and the versions of Prefect and of our deriver, so
any change that could change the schema misses the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from deploytasks import paths
from deploytasks.deploy.writer import atomic_write

DERIVER_VERSION = "1"


class SchemaCache:
    """A JSON file under ``.deploytasks/cache/`` mapping keys to schemas."""

    def __init__(self, root: Path) -> None:
        self.path = paths.state_dir(root) / "cache" / "parameter-schemas.json"
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    def key(self, source: str, function: str) -> str:
        text = "\0".join((DERIVER_VERSION, _prefect_version(), function, source))
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        found = self._load().get(key)
        return found if isinstance(found, dict) else None

    def put(self, key: str, schema: dict[str, Any]) -> None:
        self._load()[key] = schema
        self._dirty = True

    def save(self) -> None:
        """Write the cache back if anything was added (best effort: a cache is optional)."""
        if not self._dirty or self._entries is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(self._entries, separators=(",", ":")))
        except OSError:
            return
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = {}
            self._entries = loaded if isinstance(loaded, dict) else {}
        return self._entries


@functools.cache
def _prefect_version() -> str:
    from importlib.metadata import version

    return version("prefect")
