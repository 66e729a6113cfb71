"""Rendering for ``deploy.clean``, ``deploy.adopt`` and ``deploy.check``: what became of the
project's deployments on the server (deleted, claimed), or how the UI shows them.

Takes the service's results (``deploytasks/service/``); the result types are
imported for annotations only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploytasks import paths
from deploytasks.console import Output, plural

if TYPE_CHECKING:
    from deploytasks.deploy.adopt import AdoptReport
    from deploytasks.service.checking import CheckResult
    from deploytasks.service.cleaning import CleanResult


def clean_result(out: Output, result: CleanResult) -> None:
    """What ``deploy.clean`` removed (or would remove), records included."""
    report, request = result.report, result.request
    verb = "Would delete" if report.dry_run else "Deleted"
    for deployment in report.matched:
        if report.dry_run:
            out.line(f"[yellow]-[/] would delete {_esc(deployment.name)}")
        elif deployment.name in report.deleted:
            out.line(f"[green]✓[/] deleted {_esc(deployment.name)}")
        else:
            out.line(f"[red]✗[/] {_esc(deployment.name)}: "
                     f"{_esc(report.failed.get(deployment.name, 'not deleted'))}")
    if not report.matched:
        what = f"matching '{_esc(request.pattern)}'" if request.pattern else "to remove"
        out.line(f"No managed deployments {what}. (Deployments made by hand or by other "
                 "projects are never touched.)")
    else:
        count = len(report.matched) if report.dry_run else len(report.deleted)
        out.line(f"{verb} {count} managed deployment{'s' if count != 1 else ''}"
                 f"{f'; {len(report.failed)} failed' if report.failed else ''}.")
    if report.stale_records:
        out.line(f"{'Would remove' if report.dry_run else 'Removed'} "
                 f"{plural(len(report.stale_records), 'record')} of deployments deleted "
                 "outside deploytasks.", style="dim")
    for block in report.orphan_secrets:
        if report.dry_run:
            out.line(f"[yellow]-[/] would delete secret block '{block}' (no deployment uses it)")
        elif block in report.secrets_deleted:
            out.line(f"[green]✓[/] deleted secret block '{block}' (no deployment used it)")
        else:
            out.line(f"[yellow]![/] kept secret block '{block}': no deployment uses it — "
                     "answer 'y' or pass --yes to delete it with the next clean")
    out.json({"dry_run": report.dry_run, "matched": [d.name for d in report.matched],
              "deleted": report.deleted, "failed": report.failed,
              "stale_records": report.stale_records,
              "orphan_secrets": report.orphan_secrets,
              "secrets_deleted": report.secrets_deleted})


def adopt_result(out: Output, report: AdoptReport) -> None:
    """The legacy deployments ``deploy.adopt`` claimed (or would claim)."""
    for deployment in report.found:
        if report.dry_run:
            out.line(f"[yellow]+[/] would claim {_esc(deployment.name)}")
        elif deployment.name in report.claimed:
            out.line(f"[green]✓[/] claimed {_esc(deployment.name)}")
        else:
            out.line(f"[red]✗[/] {_esc(deployment.name)}: "
                     f"{_esc(report.failed.get(deployment.name, 'not claimed'))}")
    count = len(report.found) if report.dry_run else len(report.claimed)
    verb = "Would claim" if report.dry_run else "Claimed"
    out.line(f"{verb} {plural(count, 'legacy deployment')} of {report.environment} for this "
             "project." if report.found else
             f"No legacy deployments of {report.environment} to claim (only deployments with "
             "the ownership tag and no project tag, named as this repository's are).")
    out.json({"environment": report.environment, "dry_run": report.dry_run,
              "found": [d.name for d in report.found], "claimed": report.claimed,
              "failed": report.failed})


def check_result(out: Output, result: CheckResult) -> None:
    """Each deployment as the UI shows it, with its link; mismatches and warnings."""
    checks, ui_problem, shot = result.checks, result.ui_problem, result.browser
    config = result.resolution.config
    out.line(f"Checking {plural(len(checks), 'deployment')} of [bold]{config.env.name}[/] in "
             "the UI")
    for check in checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        out.line(f"{mark} {_esc(check.name)}  {check.link or ''}")
        if check.deployed_from:
            out.line(f"    {_esc(check.deployed_from)}")
        for text in check.mismatches:
            out.line(f"    [red]{_esc(text)}[/]")
            out.annotate("error", f"{check.name}: {text}")
        for text in check.warnings:
            out.line(f"    [yellow]{_esc(text)}[/]")
    if ui_problem:
        out.line(f"[red]✗[/] {_esc(ui_problem)}")
    if shot is not None:
        found = len(shot.seen)
        out.line(f"{'[green]✓[/]' if not shot.missing else '[red]✗[/]'} browser: {found} of "
                 f"{found + len(shot.missing)} deployment names rendered; screenshot "
                 f"{paths.display(shot.screenshot, config.root)}")
        for name in shot.missing:
            out.line(f"    [red]not rendered: {_esc(name)}[/]")
    bad = sum(1 for c in checks if not c.ok)
    if checks and not bad and not ui_problem:
        everything = "The deployment is" if len(checks) == 1 else \
            f"All {len(checks)} deployments are"
        out.line(f"[green]✓[/] {everything} visible and as configured.")
    elif bad:
        out.line(f"[red]{bad} of {len(checks)} deployments missing or different[/] — "
                 f"deploy them: invoke deploy.all --env {config.env.name}")
    out.json({"environment": config.env.name, "ui_problem": ui_problem,
              "deployments": [c.to_document() for c in checks],
              "browser": None if shot is None else {
                  "seen": shot.seen, "missing": shot.missing,
                  "screenshot": str(shot.screenshot)}})


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)
