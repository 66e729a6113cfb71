"""Rendering of ``flows.import``: what each deployment becomes, the settings added, and
everything the import could not carry, with file and line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploytasks.console import Output

if TYPE_CHECKING:
    from deploytasks.migrate.plan import ImportPlan

INDENT = "    "


def show_import(out: Output, plan: ImportPlan, *, written: bool, write: bool) -> None:
    """The whole report, in the output's mode."""
    out.json(plan.to_document(written))
    if out.json_mode:
        return
    how = "written" if written else ("nothing to add" if write else
                                     "dry run, nothing written; --write applies it")
    out.line(f"Importing {plan.project.file} → {plan.config_file} ({how})", markup=False)
    if plan.creates:
        out.line(f"  No configuration yet: {'created' if written else 'creates'} "
                 f"{', '.join(plan.creates)} (project: {plan.owner})", markup=False)
    for deployment in plan.imported:
        where = "new entrypoint" if deployment.explicit else "already discovered"
        out.line(f"  ✓ {deployment.name} → flow {deployment.key} ({deployment.entrypoint}, "
                 f"{where}) → {plan.names.get(deployment.name)}", markup=False)
    for item in plan.project.skipped:
        out.line(f"  ✗ {item.location}: deployment {item.deployment or '?'!r} not imported: "
                 f"{item.reason} — fix it in {item.file}, or add the flow by hand",
                 markup=False)
    _additions(out, plan, written)
    _lists(out, plan)


def _additions(out: Output, plan: ImportPlan, written: bool) -> None:
    from deploytasks.migrate.yaml_merge import dump_block

    if not plan.merge.added:
        return
    out.line()
    out.line(f"{'Added to' if written else 'To add to'} {plan.config_file} (your lines and "
             "comments stay as they are):", markup=False)
    for line in dump_block(plan.additions).splitlines():
        out.line(f"{INDENT}{line}", markup=False)


def _lists(out: Output, plan: ImportPlan) -> None:
    if plan.merge.kept:
        out.line()
        out.line("Kept (your configuration already sets them):", markup=False)
        for path, yours, theirs in plan.merge.kept:
            out.line(f"{INDENT}{'.'.join(path)}: yours {yours!r}, prefect.yaml {theirs!r}",
                     markup=False)
    if plan.notes:
        out.line()
        for note in plan.notes:
            out.line(f"  note: {note}", markup=False)
    if plan.project.not_carried:
        out.line()
        out.line(f"Not carried ({len(plan.project.not_carried)}):", markup=False)
        for item in plan.project.not_carried:
            who = f"{item.deployment}: " if item.deployment else ""
            out.line(f"{INDENT}{item.location}  {who}{item.field}: {item.reason}", markup=False)
