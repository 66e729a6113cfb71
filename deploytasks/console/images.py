"""How build, push, pull and base look: live progress on a terminal, plain lines elsewhere.

On a terminal a rich live table shows one line per flow with its state and
elapsed time; piped (CI logs) each state change is one plain line; with
``--json`` nothing but the final document reaches stdout. Build and registry
logs are streamed only under ``--verbose``, but a failure always shows the
last lines of the failing step.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from deploytasks.console import Output
from deploytasks.secrets import redact

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

    from deploytasks.images.base_image import BaseResult
    from deploytasks.images.results import ImageResult

QUIET_STATES = {"queued", "hashing"}
DONE_STYLE = {"built": "green", "reused": "cyan", "pushed": "green", "pulled": "green",
              "failed": "bold red"}
ACTIVE_STATES = {"hashing", "building", "pushing", "pulling"}


@dataclass
class _Row:
    state: str = "queued"
    detail: str = ""
    started: float | None = None
    ended: float | None = None

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


@dataclass
class ProgressView:
    """The ``Reporter`` of one command: renders states, logs and warnings as they come."""

    out: Output
    flows: Sequence[str]
    rows: dict[str, _Row] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _live: Live | None = None

    def __enter__(self) -> ProgressView:
        self.rows = {flow: _Row() for flow in self.flows}
        if self.live_enabled():
            from rich.live import Live

            self._live = Live(get_renderable=self._table, console=self.out.console,
                              refresh_per_second=4, transient=False)
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def live_enabled(self) -> bool:
        """A live table only for a person at a terminal (never for --json or a pipe)."""
        return not self.out.json_mode and sys.stdout.isatty() and self.out.console.is_terminal

    def state(self, flow: str, state: str, detail: str = "") -> None:
        """Record a state change; print it as a line when there is no live table."""
        with self._lock:
            row = self.rows.setdefault(flow, _Row())
            now = time.monotonic()
            if row.started is None and state not in {"queued"}:
                row.started = now
            if state in DONE_STYLE:
                row.ended = now
            row.state, row.detail = state, detail
            if self._live is None and state not in QUIET_STATES:
                self._plain(flow, row)

    def log(self, flow: str, line: str) -> None:
        """A build or registry log line: shown under --verbose only."""
        if self.out.verbose and not self.out.json_mode:
            with self._lock:
                self.out.console.print(f"[dim]{flow} |[/] {_escape(redact(line))}",
                                       highlight=False)

    def warn(self, flow: str, message: str) -> None:
        """A warning, on stderr."""
        with self._lock:
            self.out.warn(message)

    def _plain(self, flow: str, row: _Row) -> None:
        timing = f" in {row.elapsed():.1f}s" if row.state in DONE_STYLE else ""
        detail = f" ({row.detail})" if row.detail and row.state != "failed" else ""
        self.out.line(f"{flow}: {row.state}{timing}{detail}", markup=False)

    def _table(self) -> Table:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        for flow, row in self.rows.items():
            style = DONE_STYLE.get(row.state, "yellow" if row.state in ACTIVE_STATES else "dim")
            spinner = "…" if row.state in ACTIVE_STATES else ""
            table.add_row(flow, f"[{style}]{row.state}{spinner}[/]", f"{row.elapsed():5.1f}s",
                          _escape(row.detail))
        return table


def render_results(out: Output, action: str, results: Sequence[ImageResult],
                   seconds: float, extra: Mapping[str, object] | None = None) -> None:
    """The summary after build/push/pull: counts, failures with their last lines, JSON."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
    out.line(f"{action}: {len(results)} image(s): {summary} in {seconds:.1f}s", markup=False)
    for result in results:
        if result.error is not None:
            _render_failure(out, result)
    out.json({"action": action, "seconds": round(seconds, 3), "counts": counts,
              "images": [r.to_json() for r in results], **(extra or {})})


def render_base(out: Output, result: BaseResult) -> None:
    """The base image: reused, or built with the time of each link of the chain."""
    if result.reused:
        out.line(f"base image {result.image} is already in the engine (cached by tag)",
                 markup=False)
    else:
        steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.steps)
        out.line(f"built {result.image} (Prefect {result.prefect_version}) in "
                 f"{result.seconds:.1f}s: {steps}", markup=False)
    out.json(result.to_json())


def step_printer(out: Output) -> Callable[[str, float], None]:
    """A callback that prints each finished link of the base image chain."""
    def on_step(name: str, seconds: float) -> None:
        out.line(f"  {name}: {seconds:.1f}s", markup=False)
    return on_step


def line_printer(out: Output) -> Callable[[str], None]:
    """A callback that streams command output under --verbose."""
    def on_line(line: str) -> None:
        if out.verbose and not out.json_mode:
            out.console.print(_escape(redact(line)), highlight=False, style="dim")
    return on_line


def _render_failure(out: Output, result: ImageResult) -> None:
    assert result.error is not None
    out.error(f"{result.flow}: {result.error}")
    for line in result.tail:
        out.err_console.print(f"    {_escape(redact(line))}", highlight=False, style="dim")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def interrupted_summary(action: str, progress: ProgressView) -> str:
    """One line for Ctrl-C: which images finished, which did not, and how to finish."""
    done = [flow for flow, row in progress.rows.items() if row.state in DONE_STYLE]
    left = [flow for flow in progress.rows if flow not in done]
    finished = ", ".join(f"{flow} ({progress.rows[flow].state})" for flow in done) or "none"
    return (f"interrupted: {len(done)} of {len(progress.rows)} images finished {action}: "
            f"{finished}; not finished: {', '.join(left) or 'none'} — run the same command "
            "again (finished images are reused)")
