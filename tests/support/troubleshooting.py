"""The troubleshooting guide as the tests read it: its message patterns, and the problem
lines a CLI run printed, so a test can check that every printed problem has its entry.

``tests/integration/test_troubleshooting.py`` provokes the problems; other tests that
provoke one (rate limits, Cloud shapes) check it against the guide through these too.
"""

from __future__ import annotations

import re

from tests.support.prefect_helpers import PROJECT_ROOT

GUIDE = PROJECT_ROOT / "docs" / "TROUBLESHOOTING.md"
PATTERN_LINE = re.compile(r"^(?:Message|Also): (?:``(.+?)``|`([^`]+)`)", re.M)


def guide_patterns() -> list[re.Pattern[str]]:
    """The guide's message patterns as regular expressions (``…`` = anything)."""
    texts = [a or b for a, b in PATTERN_LINE.findall(GUIDE.read_text(encoding="utf-8"))]
    return [re.compile(".*".join(re.escape(part) for part in text.split("…")))
            for text in texts]


def printed_problems(output: str) -> list[str]:
    """Lines that report an error, or a failed item with its fix."""
    return [line.strip() for line in output.splitlines()
            if line.startswith("error:") or ("✗" in line and " — " in line)]
