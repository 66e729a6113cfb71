"""``flows.import``: turn a prefect.yaml into deploytasks configuration (a dry run unless
``--write``), then hand the plan to the renderer. A repository without configuration yet
gets one started (its project named after the prefect.yaml's ``name``)."""

from __future__ import annotations

import os
from pathlib import Path

from deploytasks.console import Output
from deploytasks.errors import EXIT_OK, EXIT_PROBLEMS, UsageError


def import_command(out: Output, *, source: str, write: bool = False, json: bool = False,
                   env: str | None = None) -> int:
    """Plan the import of ``source``; write it with ``write``. 1 when a deployment could not
    be imported at all."""
    from deploytasks.config import ConfigurationManager
    from deploytasks.console.migrate import show_import
    from deploytasks.migrate.plan import plan_import, starter_text, write_import

    out.json_mode = out.json_mode or json
    manager = ConfigurationManager()
    path = _source_path(manager.root, source)
    seed = None if manager.config_path.is_file() else starter_text(path, manager.root)
    config = manager.load(env, seed=seed)
    plan = plan_import(config, path, seed)
    written = bool(write and (plan.merge.added or plan.creates))
    if written:
        write_import(plan, config)
    show_import(out, plan, written=written, write=write)
    return EXIT_PROBLEMS if plan.project.skipped else EXIT_OK


def _source_path(root: Path, source: str) -> Path:
    given = Path(source or "prefect.yaml")
    for path in ([given] if given.is_absolute() else [Path.cwd() / given, root / given]):
        if path.is_file():
            return Path(os.path.abspath(path))
    raise UsageError(f"no prefect.yaml at {source!r}", where="--from",
                     hint="pass the path of the project's prefect.yaml (default: prefect.yaml)")
