"""All output: rich text for people, one JSON document for scripts, annotations for CI.

The core never prints, and never imports this package. Tasks hand results to an
``Output``, and the renderers in this package (one module per collection) decide
how they look; whatever they print passes through ``deploytasks.secrets.redact``.
rich is imported lazily so that ``invoke --list`` and tab completion never pay
for it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from deploytasks.console.width import console_width
from deploytasks.errors import DeployTasksError
from deploytasks.secrets import redact

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def in_github_actions() -> bool:
    """True inside a GitHub Actions job, where annotations and step summaries apply."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


class Output:
    """The sink of one command: human text, or one JSON document on stdout."""

    def __init__(self, *, json_mode: bool = False, verbose: bool = False,
                 quiet: bool = False) -> None:
        self.json_mode = json_mode or quiet
        self.quiet = quiet
        self.verbose = verbose
        self._console: Console | None = None
        self._err_console: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console for human output (stderr in JSON mode, so stdout stays parseable)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self.json_mode, highlight=False, soft_wrap=True,
                                    width=console_width(stderr=self.json_mode))
        return self._console

    @property
    def err_console(self) -> Console:
        """The rich console for errors."""
        if self._err_console is None:
            from rich.console import Console

            self._err_console = Console(stderr=True, highlight=False, soft_wrap=True,
                                        width=console_width(stderr=True))
        return self._err_console

    def line(self, text: str = "", *, style: str | None = None, markup: bool = True) -> None:
        """Print one line for people; silent in JSON mode."""
        if not self.json_mode:
            self.console.print(redact(text), style=style, markup=markup)

    def detail(self, text: str, *, style: str | None = "dim") -> None:
        """Print a line only under ``--verbose``."""
        if self.verbose:
            self.line(text, style=style)

    def render(self, renderable: RenderableType) -> None:
        """Print a rich renderable (a table, a panel) for people; silent in JSON mode."""
        if not self.json_mode:
            self.console.print(renderable)

    def json(self, document: object) -> None:
        """Print the command's result as one JSON document, when in JSON mode."""
        if self.json_mode and not self.quiet:
            text = json.dumps(document, indent=2, sort_keys=False, default=str)
            sys.stdout.write(redact(text) + "\n")
            sys.stdout.flush()

    def warn(self, text: str) -> None:
        """A warning for people, on stderr so it never pollutes JSON."""
        self.err_console.print(f"[yellow]warning:[/] {redact(text)}", markup=True)

    def error(self, error: DeployTasksError | str) -> None:
        """Print an expected failure as one line: where, what, and what to do."""
        from rich.markup import escape

        self.err_console.print(f"[bold red]error:[/] {escape(redact(str(error)))}")

    def annotate(
        self, level: str, message: str, *, file: str | None = None, line: int | None = None
    ) -> None:
        """Emit a GitHub Actions annotation (``::error file=…,line=…::…``) inside Actions."""
        if not in_github_actions():
            return
        props = []
        if file:
            props.append(f"file={_escape_property(file)}")
        if line:
            props.append(f"line={line}")
        head = f"::{level} {','.join(props)}" if props else f"::{level}"
        stream = sys.stderr if self.json_mode else sys.stdout  # keep stdout one JSON document
        stream.write(f"{head}::{_escape_data(redact(message))}\n")

    def step_summary(self, markdown: str) -> None:
        """Append Markdown to the job summary (``$GITHUB_STEP_SUMMARY``) when there is one."""
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if target:
            with Path(target).open("a", encoding="utf-8") as handle:
                handle.write(redact(markdown).rstrip("\n") + "\n\n")


def markdown_table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A GitHub-flavoured Markdown table (for job summaries)."""
    head = list(headers)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def plural(count: int, word: str) -> str:
    """``1 deployment``, ``2 deployments``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
