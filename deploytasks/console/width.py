"""How wide rich may draw: the terminal's width on a terminal, no limit elsewhere.

rich wraps lines and folds table cells at the console width, and when its
stream is not a terminal that width is 80 columns (or the width of whatever
terminal stdin belongs to). Piped into ``grep``, ``less`` or a CI log, a table
row then breaks over lines and a path like ``config/deployment-config.yaml:8``
splits, so a search misses it. Output that is not a terminal is therefore drawn
at its natural width: one row, one line. A ``COLUMNS`` set explicitly still
wins (rich reads it), and a terminal keeps rich's own detection.

Nothing here imports rich, so ``deploytasks.console`` stays cheap to import.
"""

from __future__ import annotations

import os
import sys

# Wider than any row we print. Nothing we render expands to the full width
# (no panels or rules; tables are not `expand`), so no line is padded to it.
UNLIMITED = 10_000


def console_width(*, stderr: bool) -> int | None:
    """The width to give rich's ``Console`` for stdout (or stderr): None to let
    rich decide (a terminal, or ``COLUMNS`` set), else `UNLIMITED`."""
    if os.environ.get("COLUMNS", "").isdigit():  # as rich reads it
        return None
    stream = sys.stderr if stderr else sys.stdout
    try:
        return None if stream.isatty() else UNLIMITED
    except (AttributeError, ValueError, OSError):  # closed or replaced by a non-file
        return UNLIMITED
