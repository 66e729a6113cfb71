"""A sibling module whose import writes a marker file."""

from pathlib import Path

Path(__file__).with_name("IMPORTED_HELPER").write_text("helper.py was executed\n")


def answer() -> str:
    """The answer."""
    return "42"
