"""Rendering for the ``deploy`` collection: specs, problems, plans and apply reports."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from deploytasks import paths
from deploytasks.console import MASK, Output, markdown_table, plural
from deploytasks.findings import problem_document, skipped_document

if TYPE_CHECKING:
    from deploytasks.deploy.apply import ApplyReport, Outcome
    from deploytasks.deploy.commands import Checked
    from deploytasks.deploy.plan import Change, Plan, PlanItem
    from deploytasks.deploy.pools import PoolStatus
    from deploytasks.deploy.secret_blocks import SecretChange

ACTION_STYLE = {"create": "green", "update": "yellow", "unchanged": "dim",
                "orphaned": "magenta", "conflict": "red"}
ACTION_MARK = {"create": "+", "update": "~", "unchanged": "=", "orphaned": "?", "conflict": "!"}
MAX_CHANGE_LINES = 8


def _environment_line(out: Output, checked: Checked, verb: str) -> None:
    config = checked.resolution.config
    out.line(f"{verb} [bold]{config.env.name}[/] ({config.env.short}): "
             f"{plural(len(checked.resolution.specs), 'deployment')} from "
             f"{plural(len(checked.resolution.flows), 'flow')}")


def skipped_and_problems(out: Output, checked: Checked) -> None:
    """Flows and deployments left out, and each problem, with what to do."""
    for skipped in checked.resolution.skipped:
        target = skipped.deployment or skipped.flow
        hint = f" — {skipped.hint}" if skipped.hint else ""
        out.line(f"[red]✗[/] {target}: skipped: {_esc(skipped.reason)}{_esc(hint)}")
        out.annotate("error", f"{target}: {skipped.reason}{hint}")
    for problem in checked.problems:
        out.line(f"[red]✗[/] {_esc(str(problem))}")
        out.annotate("error", str(problem))
    for warning in checked.resolution.warnings:
        hint = f" — {warning.hint}" if warning.hint else ""
        out.line(f"[yellow]![/] {warning.setting}: {_esc(warning.message)}{_esc(hint)}")
        out.annotate("warning", f"{warning.setting}: {warning.message}{hint}")


def _skipped_documents(checked: Checked) -> dict[str, Any]:
    return {"skipped": [skipped_document(s) for s in checked.resolution.skipped],
            "problems": [problem_document(p) for p in checked.problems],
            "warnings": [problem_document(w) for w in checked.resolution.warnings]}


def build_result(out: Output, checked: Checked, written: list[Path], folder: Path) -> None:
    """What ``deploy.build`` wrote."""
    root = checked.resolution.config.root
    _environment_line(out, checked, "Built")
    for path in written:
        out.detail(f"  wrote {paths.display(path, root)}")
    skipped_and_problems(out, checked)
    out.line(f"Wrote {len(written)} specs and a manifest to {paths.display(folder, root)}/")
    out.json({"environment": checked.resolution.config.env.name,
              "folder": paths.display(folder, root),
              "specs": [s.to_document() for s in checked.resolution.specs],
              **_skipped_documents(checked)})


def validation_result(out: Output, checked: Checked, pools: list[PoolStatus], *,
                      offline: bool) -> None:
    """Every problem of the environment's deployments, or that there are none."""
    _environment_line(out, checked, "Validated")
    for pool in pools:
        if pool.problem:
            out.line(f"[red]✗[/] {pool.problem.message} — {pool.problem.hint}")
            out.annotate("error", pool.problem.message)
        elif pool.state == "missing":
            out.line(f"[yellow]•[/] work pool '{pool.name}' ({pool.type}) does not exist yet; "
                     "deploy will create it")
        else:
            out.detail(f"  work pool '{pool.name}' ({pool.type}) exists")
    if offline:
        out.detail("  work pools not checked (--offline)")
    skipped_and_problems(out, checked)
    count = len(checked.problems) + len(checked.resolution.skipped) + \
        sum(1 for p in pools if p.problem)
    if count:
        out.line(f"[red]{count} problem{'s' if count != 1 else ''} found.[/]")
    else:
        out.line(f"[green]✓[/] All {plural(len(checked.resolution.specs), 'deployment')} "
                 "valid.")
    out.json({"environment": checked.resolution.config.env.name, "valid": count == 0,
              "pools": [{"kind": p.kind, "name": p.name, "type": p.type, "state": p.state}
                        for p in pools], **_skipped_documents(checked)})


def plan_sentence(plan: Plan) -> str:
    """``Plan: 2 to create, 1 to update, 3 unchanged, 1 orphaned``."""
    counts = plan.counts()
    parts = [f"{counts['create']} to create", f"{counts['update']} to update",
             f"{counts['unchanged']} unchanged", f"{counts['orphaned']} orphaned"]
    if counts["conflict"]:
        parts.append(f"{counts['conflict']} in conflict")
    return "Plan: " + ", ".join(parts)


def plan_summary_line(out: Output, plan: Plan) -> None:
    """Print the plan's counts as one line."""
    out.line(plan_sentence(plan))


def plan_markdown(checked: Checked, plan: Plan) -> str:
    """The plan as a job-summary section: changes, skipped flows and problems, counts."""
    rows: list[tuple[str, str, str, str]] = [
        (i.action, i.name, i.kind or "",
         "; ".join([*([f"drift: {', '.join(i.drift)}"] if i.drift else []),
                    *describe_changes(i.changes)]))
        for i in plan.items if i.action != "unchanged"]
    rows += [("skipped", s.deployment or s.flow or "", s.kind or "", s.reason)
             for s in checked.resolution.skipped]
    rows += [("invalid", p.deployment or "", "", f"{p.setting}: {p.message}")
             for p in checked.problems]
    table = markdown_table(["action", "deployment", "type", "details"], rows) if rows \
        else "Nothing to change."
    title = f"### Deployment plan for {checked.resolution.config.env.name}"
    return f"{title}\n\n{table}\n\n{plan_sentence(plan)}"


def plan_result(out: Output, checked: Checked, plan: Plan, pools: list[PoolStatus],
                requests: Any, *, protected: bool = False,
                secrets: Sequence[SecretChange] = ()) -> None:
    """The dry run: every deployment's action, and for updates the changed fields (and
    which of them were edited on the server since the last deploy: drift)."""
    _environment_line(out, checked, "Planning")
    for pool in pools:
        if pool.state == "missing":
            out.line(f"[green]+[/] work pool '{pool.name}' ({pool.type}) will be created")
        elif pool.problem:
            out.line(f"[red]✗[/] {pool.problem.message}")
    for item in plan.items:
        _plan_item(out, item, protected=protected)
    secret_lines(out, secrets)
    skipped_and_problems(out, checked)
    plan_summary_line(out, plan)
    out.line(f"Dry run: nothing was written ({requests.reads} read, {requests.writes} write "
             "requests).", style="dim")
    waited_line(out, requests)
    out.step_summary(plan_markdown(checked, plan))
    out.json({"environment": checked.resolution.config.env.name,
              "plan": [i.to_document() for i in plan.items], "summary": plan.counts(),
              "pools": [{"name": p.name, "type": p.type, "state": p.state} for p in pools],
              "requests": {"reads": requests.reads, "writes": requests.writes,
                           **_pace_document(requests)},
              "secrets": [change.to_document() for change in secrets],
              **_skipped_documents(checked)})


SECRET_VERBS = {"create": "[green]+[/] secret block '{}' ({}) will be created",
                "update": "[yellow]~[/] secret block '{}' ({}): value changed (not shown), "
                          "will be updated",
                "conflict": "[red]✗[/] secret block '{}' ({}) exists but is not this "
                            "project's — rename the variable or remove that block"}


def secret_lines(out: Output, secrets: Sequence[SecretChange]) -> None:
    """What a deploy does to the Secret blocks; never their values."""
    for change in secrets:
        if change.action in SECRET_VERBS:
            out.line(SECRET_VERBS[change.action].format(change.block, _esc(change.key)))


def waited_line(out: Output, counter: Any) -> None:
    """That the run waited because the server asked it to (429/503 Retry-After), and how."""
    pace = counter.pace
    lowered = (f"write concurrency lowered to {pace.lowest_concurrency} on busy answers"
               if pace.lowest_concurrency else "")
    if pace.waits:
        out.line(f"[yellow]Waited {plural(pace.waits, 'time')}, {pace.waited_seconds:.1f} s in "
                 f"all[/], as the server asked (HTTP 429/503 Retry-After)"
                 f"{'; ' + lowered if lowered else ''}.")
    elif lowered:
        out.line(f"[yellow]The server was busy[/]: {lowered}.")


def _pace_document(counter: Any) -> dict[str, Any]:
    pace = counter.pace
    return {"waits": pace.waits, "waited_seconds": round(pace.waited_seconds, 3),
            "lowest_concurrency": pace.lowest_concurrency}


def _plan_item(out: Output, item: PlanItem, *, protected: bool = False) -> None:
    style = ACTION_STYLE[item.action]
    if item.action == "unchanged" and not out.verbose:
        return
    out.line(f"[{style}]{ACTION_MARK[item.action]} {item.action:<9}[/] {_esc(item.name)}"
             f"{_esc(_conflict_note(item))}{_drift_note(item, protected)}")
    for line in describe_changes(item.changes)[:MAX_CHANGE_LINES]:
        out.line(f"      {_esc(line)}", style="dim")
    if len(item.changes) and len(describe_changes(item.changes)) > MAX_CHANGE_LINES:
        out.line("      … (--json shows every change)", style="dim")


def _conflict_note(item: PlanItem) -> str:
    if item.action != "conflict":
        return ""
    if item.legacy:
        env = item.spec.environment if item.spec else "…"
        return (" — a deployment with this name was created by deploytasks before projects "
                "existed (it has no project tag); if it is this project's, claim it: "
                f"invoke deploy.adopt --env {env}")
    if item.owner and item.owner.startswith("project"):
        return (f" — a deployment with this name belongs to {item.owner}; it is never written "
                "or deleted from here: rename one of them (naming.deployment) or agree which "
                "project owns it")
    return (" — a deployment with this name exists but was not created by deploytasks; "
            "rename one of them (naming.deployment) or delete it by hand")


def _drift_note(item: PlanItem, protected: bool) -> str:
    if not item.drift:
        return ""
    then = "a deploy refuses it without --force" if protected else "a deploy overwrites it"
    return (f"  [bold red]drift[/]: {_esc(', '.join(item.drift))} changed on the server since "
            f"the last deploy ({then})")


def describe_changes(changes: list[Change]) -> list[str]:
    """``parameters.batch_size: 100 → 200`` lines; env values are masked."""
    lines: list[str] = []
    for change in changes:
        lines += [f"{path}: {_short(old)} → {_short(new)}"
                  for path, old, new in _leaf_diff(change.field, change.old, change.new)]
    return lines


def _leaf_diff(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    if path.endswith(".env") or path == "env":
        return [(path, MASK if old else old, MASK if new else new)]
    if isinstance(old, dict) and isinstance(new, dict):
        rows: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                rows += _leaf_diff(f"{path}.{key}", old.get(key), new.get(key))
        return rows
    return [(path, old, new)]


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class ApplyProgress:
    """A line per finished deployment (and a live bar on a terminal)."""

    def __init__(self, out: Output, total: int) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self._progress: Any = None

    def __enter__(self) -> ApplyProgress:
        if self.total and not self.out.json_mode and self.out.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=self.out.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("deploying", total=self.total)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, outcome: Outcome) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress.advance(self._task)
        mark = "[green]✓[/]" if outcome.ok else "[red]✗[/]"
        message = f" — {_esc(outcome.message)}" if outcome.message else ""
        self.out.line(f"{mark} {outcome.action:<7} {_esc(outcome.name)} "
                      f"({outcome.seconds * 1000:.0f} ms){message}")


def deploy_result(out: Output, checked: Checked, plan: Plan, report: ApplyReport,
                  counter: Any) -> None:
    """The summary of a deploy: counts, failures, requests, and what to do next."""
    for name in report.pools_created:
        out.line(f"[green]+[/] created work pool '{name}'")
    for name, why in report.pool_failures.items():
        out.line(f"[red]✗[/] work pool '{name}': {_esc(why)}")
    for name in report.secrets_written:
        out.line(f"[green]+[/] wrote secret block '{name}' (value not shown)")
    for item in plan.of("orphaned", "conflict"):
        _plan_item(out, item)
    skipped_and_problems(out, checked)
    ok = [o for o in report.outcomes if o.ok]
    failed = report.failed
    unchanged = len(plan.of("unchanged"))
    left_out = len(checked.resolution.skipped) + len({p.deployment for p in checked.problems})
    if not plan.writes and left_out:
        out.line(f"[red]Nothing deployed[/]: {plural(left_out, 'flow or deployment')} "
                 f"skipped (see above), {unchanged} up to date (0 write requests).")
    elif not plan.writes and not report.secrets_written:
        out.line(f"[green]✓[/] Nothing to change: {plural(unchanged, 'deployment')} up to date "
                 f"(0 write requests).")
    elif not plan.writes:
        out.line(f"[green]✓[/] Deployments up to date: {plural(unchanged, 'deployment')}; "
                 f"{plural(len(report.secrets_written), 'secret block')} written "
                 f"({counter.writes} write requests).")
    else:
        style = "red" if failed else "green"
        out.line(f"[{style}]Deployed {len(ok)} of {len(plan.writes)} changes[/] "
                 f"({len(failed)} failed, {unchanged} unchanged; "
                 f"{counter.writes} write / {counter.reads} read requests, "
                 f"{counter.retries} retries).")
    waited_line(out, counter)
    if plan.of("orphaned"):
        out.line("Orphaned deployments are kept; remove them with: invoke deploy.clean "
                 "--orphans", style="dim")
    out.json({"environment": checked.resolution.config.env.name,
              "results": [o.to_document() for o in report.outcomes],
              "plan": plan.counts(), "pools_created": report.pools_created,
              "secrets_written": report.secrets_written,
              "requests": {"reads": counter.reads, "writes": counter.writes,
                           "retries": counter.retries, **_pace_document(counter)},
              "failed": len(failed), **_skipped_documents(checked)})


def clean_result(out: Output, report: Any, request: Any) -> None:
    """What ``deploy.clean`` removed (or would remove), records included."""
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


def adopt_result(out: Output, report: Any) -> None:
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


def check_result(out: Output, resolution: Any, checks: list[Any], ui_problem: str | None,
                 shot: Any) -> None:
    """Each deployment as the UI shows it, with its link; mismatches and warnings."""
    config = resolution.config
    out.line(f"Checking {len(checks)} deployments of [bold]{config.env.name}[/] in the UI")
    for check in checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        out.line(f"{mark} {_esc(check.name)}  {check.link or ''}")
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
        out.line(f"[green]✓[/] All {len(checks)} deployments are visible and as configured.")
    elif bad:
        out.line(f"[red]{bad} of {len(checks)} deployments missing or different[/] — "
                 f"deploy them: invoke deploy.all --env {config.env.name}")
    out.json({"environment": config.env.name, "ui_problem": ui_problem,
              "deployments": [c.to_document() for c in checks],
              "browser": None if shot is None else {
                  "seen": shot.seen, "missing": shot.missing,
                  "screenshot": str(shot.screenshot)}})


def interrupted_summary(report: ApplyReport) -> str:
    """One line for Ctrl-C: what was written, what was not, and how to finish."""
    done = {o.name for o in report.outcomes if o.ok}
    failed = {o.name for o in report.outcomes if not o.ok}
    left = [name for name in report.planned if name not in done | failed]
    shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    return (f"interrupted: {len(done)} of {len(report.planned)} changes written"
            f"{f', {len(failed)} failed' if failed else ''}"
            f"{f'; not done: {shown}' if left else ''} — run the same command again to "
            "finish (it only sends what is still missing)")
