"""The body of ``invoke makefile``: regenerate or check the committed Makefile."""

from __future__ import annotations

from invoke.collection import Collection

from deploytasks import makefile, paths
from deploytasks.console import Output


def generated(ns: Collection) -> str:
    """The Makefile text for the table, checked against the tasks of ``ns``."""
    return makefile.render(makefile.checked(makefile.TARGETS, set(ns.task_names)))


def write_or_check(out: Output, ns: Collection, *, check: bool) -> int:
    """Write the Makefile, or with ``check`` report whether it is stale."""
    root = paths.repo_root()
    target = root / "Makefile"
    text = generated(ns)
    if not check:
        target.write_text(text, encoding="utf-8")
        out.line(f"[green]✓[/] Wrote {paths.display(target, root)}.")
        return 0
    difference = makefile.diff(target, text)
    if difference:
        out.line(difference, markup=False)
        out.error("the Makefile is stale or was edited by hand — run: invoke makefile")
        return 1
    out.line("[green]✓[/] Makefile is up to date.")
    return 0
