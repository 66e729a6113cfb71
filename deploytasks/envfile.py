"""Reading a ``.env`` file: the one parser behind the env-file rule and the values deployed.

A line is ``KEY=VALUE`` (an ``export `` prefix is allowed; blank lines and ``#`` comments
are skipped), the key a name of letters, digits and ``_`` not starting with a digit. A
value that starts with a quote runs to the matching quote, across lines if need be, and
what follows the closing quote (a comment) is not part of it: inside single quotes
everything is kept as written; inside double quotes ``\\"`` is a quote and ``\\\\`` a
backslash. An unquoted value is the rest of the line, spaces around it removed (a ``#``
in it is part of it). Nothing is expanded (``$VAR``, ``$(...)``): a value reaches the
deployment exactly as written. The last assignment of a key wins.

What is wrong with a line is a finding that never shows the line's value: a value is a
secret, and a mistyped line (``TOKEN: s3cret``) may hold one where the key should be.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from deploytasks.findings import Finding

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ESCAPE_RE = re.compile(r'\\(["\\])')
QUOTES = ("'", '"')


@dataclass(frozen=True)
class EnvEntry:
    """One assignment: the key, its line, and its value (None: its quote never closes)."""

    key: str
    line: int
    value: str | None


@dataclass(frozen=True)
class EnvFile:
    """The assignments of one env file, in order, and what is wrong with it."""

    entries: tuple[EnvEntry, ...]
    findings: tuple[Finding, ...]

    @property
    def keys(self) -> dict[str, int]:
        """Every key and the line it is first set on."""
        keys: dict[str, int] = {}
        for entry in self.entries:
            keys.setdefault(entry.key, entry.line)
        return keys

    def values(self, names: Iterable[str]) -> dict[str, str]:
        """The values of the named keys that are set (the last assignment wins)."""
        wanted = set(names)
        return {entry.key: entry.value for entry in self.entries
                if entry.key in wanted and entry.value is not None}


def parse_env(text: str, rel: str) -> EnvFile:
    """Every assignment of an env file (``rel``: its repo-relative path, for findings)."""
    entries: list[EnvEntry] = []
    findings: list[Finding] = []
    first_lines: dict[str, int] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        key, has_value, rest = line.removeprefix("export ").partition("=")
        key = key.strip()
        problem = _key_problem(key, bool(has_value), number, rel)
        if problem:
            findings.append(problem)
            continue
        value, index, unclosed = _value(rest.strip(), lines, index, number, rel)
        findings += [unclosed] if unclosed else []
        findings += _duplicate(key, number, first_lines, rel)
        entries.append(EnvEntry(key, number, value))
    return EnvFile(tuple(entries), tuple(findings))


def _key_problem(key: str, has_value: bool, line: int, rel: str) -> Finding | None:
    hint = "write KEY=VALUE: a name of letters, digits and _, not starting with a digit"
    if not has_value:
        return Finding.error(rel, line, f"line {line} is not KEY=VALUE", hint)
    if not key:
        return Finding.error(rel, line, f"line {line} has an empty name before '='", hint)
    if not _NAME_RE.match(key):
        # The "name" may hold a value typed with ':' instead of '=': never echo it.
        return Finding.error(rel, line, f"line {line}: the text before '=' is not a valid "
                             "variable name", hint)
    return None


def _value(text: str, lines: list[str], index: int, line: int,
           rel: str) -> tuple[str | None, int, Finding | None]:
    """The value starting with ``text`` (the rest of its line), the index of the line after
    it, and the finding when a quote never closes."""
    quote = text[:1]
    if quote not in QUOTES:
        return text, index, None
    parts = [text[1:]]
    while (end := _closing(parts[-1], quote)) is None:
        if index >= len(lines):
            return None, index, Finding.error(
                rel, line, f"the value on line {line} opens a {quote} quote that is never "
                "closed", f"close the {quote} quote")
        parts.append(lines[index])
        index += 1
    parts[-1] = parts[-1][:end]
    value = "\n".join(parts)
    return (_ESCAPE_RE.sub(r"\1", value) if quote == '"' else value), index, None


def _closing(text: str, quote: str) -> int | None:
    """Where ``quote`` closes in ``text`` (a backslash escapes inside double quotes)."""
    escaped = False
    for position, char in enumerate(text):
        if char == quote and not escaped:
            return position
        escaped = quote == '"' and char == "\\" and not escaped
    return None


def _duplicate(key: str, line: int, first_lines: dict[str, int], rel: str) -> list[Finding]:
    first = first_lines.setdefault(key, line)
    if first == line:
        return []
    return [Finding.warning(
        rel, line, f"{key} is set on line {first} and again on line {line}; the last one wins",
        "keep one assignment",
    )]
