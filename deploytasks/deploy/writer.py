"""Write resolved specs to disk: one YAML file per deployment and a manifest.

Files are written to a temporary name and renamed into place, so an
interrupted build never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.secrets import redact

MANIFEST = "manifest.json"


def write_specs(folder: Path, specs: list[DeploymentSpec], config: ResolvedConfig, *,
                prune: bool) -> list[Path]:
    """Write each spec and the manifest; with ``prune``, drop files of specs no longer made."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        path = folder / f"{spec.name}.yaml"
        atomic_write(path, redact(yaml.safe_dump(spec.to_document(), sort_keys=False)))
        written.append(path)
    if prune:
        keep = {p.name for p in written}
        for stale in folder.glob("*.yaml"):
            if stale.name not in keep:
                stale.unlink()
    atomic_write(folder / MANIFEST, json.dumps(_manifest(specs, config), indent=2) + "\n")
    return written


def _manifest(specs: list[DeploymentSpec], config: ResolvedConfig) -> dict[str, Any]:
    return {
        "environment": config.env.name,
        "deployments": [{"name": s.name, "flow": s.flow_folder, "type": s.kind,
                         "file": f"{s.name}.yaml", "version": s.version, "image": s.image}
                        for s in specs],
    }


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename; Ctrl-C at
    any moment leaves either the old file or the new one, and no temporary file."""
    temporary: str | None = None
    try:
        with _ctrl_c_held():  # until we know the temporary file's name, to remove it
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block, and raise it when the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt
