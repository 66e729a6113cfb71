"""Rendering for the ``deploy`` collection: specs, problems, plans and apply reports.

(What ``deploy.clean``, ``deploy.adopt`` and ``deploy.check`` found is ``project.py``'s.)

Takes the service's results (``deploytasks/service/``) and shows them; a deploy's
live lines and progress bar come from ``DeployProgress``, which receives the
service's progress events. The result types are imported for annotations only,
so that importing this module imports no part of the core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from deploytasks import paths
from deploytasks.console import Output, markdown_table, plural
from deploytasks.findings import problem_document, skipped_document
from deploytasks.secrets import is_env, mask

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from deploytasks.deploy.apply import Outcome
    from deploytasks.deploy.plan import Change, Plan, PlanItem
    from deploytasks.deploy.prefect_api import RequestCounter
    from deploytasks.deploy.secret_blocks import SecretChange
    from deploytasks.service.deploying import DeployResult
    from deploytasks.service.preview import BuildResult, PlanResult, ValidationResult
    from deploytasks.service.selection import Checked

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


def build_result(out: Output, result: BuildResult) -> None:
    """What ``deploy.build`` wrote."""
    checked, written, folder = result.checked, result.written, result.folder
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


def validation_result(out: Output, result: ValidationResult) -> None:
    """Every problem of the environment's deployments, or that there are none."""
    checked, pools, offline = result.checked, result.pools, result.offline
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


def plan_result(out: Output, result: PlanResult) -> None:
    """The dry run: every deployment's action, and for updates the changed fields (and
    which of them were edited on the server since the last deploy: drift)."""
    checked, plan, pools = result.checked, result.state.plan, result.state.pools
    requests, protected = result.state.requests, result.protected
    _environment_line(out, checked, "Planning")
    for pool in result.state.pools_to_create():
        out.line(f"[green]+[/] work pool '{pool.name}' ({pool.type}) will be created")
    for pool in pools:
        if pool.problem:
            out.line(f"[red]✗[/] {pool.problem.message}")
    for item in plan.items:
        _plan_item(out, item, protected=protected)
    secret_lines(out, result.state.secrets)
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
              "secrets": [change.to_document() for change in result.state.secrets],
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


def waited_line(out: Output, counter: RequestCounter) -> None:
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


def _pace_document(counter: RequestCounter) -> dict[str, Any]:
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


def _leaf_diff(path: str, old: object, new: object) -> list[tuple[str, object, object]]:
    if is_env(path):
        return [(path, mask(old), mask(new))]
    if isinstance(old, dict) and isinstance(new, dict):
        rows: list[tuple[str, object, object]] = []
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                rows += _leaf_diff(f"{path}.{key}", old.get(key), new.get(key))
        return rows
    return [(path, old, new)]


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class DeployProgress:
    """A deploy's live lines (a ``service.progress.Progress``): what is being promoted, the
    plan's counts, a line per finished deployment, and a live bar on a terminal."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def promoting(self, source: str, target: str) -> None:
        self.out.line(f"Promoting {source} → {target}")

    def planned(self, plan: Plan) -> None:
        plan_summary_line(self.out, plan)

    def applying(self, writes: int) -> None:
        if writes and not self.out.json_mode and self.out.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._bar = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=self.out.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("deploying", total=writes)

    def finished(self, outcome: Outcome) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)
        mark = "[green]✓[/]" if outcome.ok else "[red]✗[/]"
        message = f" — {_esc(outcome.message)}" if outcome.message else ""
        self.out.line(f"{mark} {outcome.action:<7} {_esc(outcome.name)} "
                      f"({outcome.seconds * 1000:.0f} ms){message}")

    def applied(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def deploy_result(out: Output, result: DeployResult) -> None:
    """The summary of a deploy: counts, failures, requests, and what to do next."""
    checked, plan, report, counter = result.checked, result.plan, result.report, result.requests
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
    conflicts = len(plan.of("conflict"))
    not_deployed = ", ".join([
        *([f"{plural(left_out, 'flow or deployment')} skipped"] if left_out else []),
        *([f"{conflicts} in conflict"] if conflicts else [])])
    if not plan.writes and not_deployed:
        out.line(f"[red]Nothing deployed[/]: {not_deployed} (see above), {unchanged} up to "
                 "date (0 write requests).")
    elif not plan.writes and not report.secrets_written:
        out.line(f"[green]✓[/] Nothing to change: {plural(unchanged, 'deployment')} up to date "
                 f"(0 write requests).")
    elif not plan.writes:
        out.line(f"[green]✓[/] Deployments up to date: {plural(unchanged, 'deployment')}; "
                 f"{plural(len(report.secrets_written), 'secret block')} written "
                 f"({counter.writes} write requests).")
    else:
        style = "red" if failed or not_deployed else "green"
        out.line(f"[{style}]Deployed {len(ok)} of {len(plan.writes)} changes[/] "
                 f"({len(failed)} failed, {f'{not_deployed}, ' if not_deployed else ''}"
                 f"{unchanged} unchanged; "
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


def promote_result(out: Output, result: PlanResult | DeployResult) -> None:
    """What ``env.promote`` would do (a dry run) or did."""
    from deploytasks.service.preview import PlanResult

    if isinstance(result, PlanResult):
        plan_result(out, result)
    else:
        deploy_result(out, result)
