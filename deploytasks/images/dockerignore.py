""".dockerignore semantics, as Docker applies them, and the file list of a build context.

This ports moby's ``patternmatcher`` (``MatchesOrParentMatches``) and the walk of
``pkg/archive`` that the CLI uses to send a context, because the content tag
must hash exactly the files that reach the builder. docker-py ships
``docker.utils.build.exclude_paths``, but it is not right enough to hash with:
it lower-cases both pattern and path (``Secret.txt`` would also drop
``secret.txt`` on Linux), treats ``#`` after leading blanks as a comment, has
no backslash escapes, and only checks the parent directory of the pattern's
depth. The classic build sends this module's list (``docker_api`` tars it),
so hash and context agree by construction.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

IGNORE_FILE = ".dockerignore"
_REGEX_SPECIAL = set(".+()|{}$^")


@dataclass(frozen=True)
class Pattern:
    """One cleaned pattern; ``exclusion`` is a ``!`` line that brings files back."""

    text: str
    exclusion: bool

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The pattern translated the way moby translates it (``*``, ``?``, ``**``, ``\\``)."""
        return re.compile(_translate(self.text))

    def match(self, path: str) -> bool:
        """True when ``path`` (relative, '/'-separated) matches the pattern itself."""
        return self.regex.match(path) is not None


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore text, read like Docker's ``ReadAll``.

    A line is a comment only when ``#`` is its very first character; blanks
    around a pattern (and after ``!``) are dropped; patterns are cleaned like
    Go's ``filepath.Clean`` and lose a leading ``/``.
    """
    patterns: list[str] = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.removeprefix("\ufeff") if number == 0 else raw
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        body = line[1:].strip() if invert else line
        if body:
            body = _clean(body)
            if len(body) > 1 and body.startswith("/"):
                body = body[1:]
        patterns.append(("!" if invert else "") + body)
    return patterns


def load_patterns(context: Path) -> list[str]:
    """The patterns of ``context/.dockerignore`` (none when the file is missing)."""
    ignore = context / IGNORE_FILE
    if not ignore.is_file():
        return []
    return read_patterns(ignore.read_text(encoding="utf-8", errors="replace"))


class Matcher:
    """Decides which paths of a context are excluded, in Docker's order of patterns."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [_parse(p) for p in patterns if p.strip()]
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """True when the last pattern matching ``path`` or one of its parents excludes it."""
        parents = _parents(path)
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            if pattern.match(path) or any(pattern.match(parent) for parent in parents):
                matched = not pattern.exclusion
        return matched

    def may_hold_exceptions(self, directory: str) -> bool:
        """Whether an excluded directory must still be walked for ``!`` patterns inside it.

        Docker checks only a plain prefix (``!dir/keep.txt`` rescues
        ``dir/keep.txt``; ``!**/keep.txt`` does not reach into an excluded ``dir``).
        """
        prefix = directory + "/"
        return any(
            (p.text + "/").startswith(prefix) for p in self.patterns if p.exclusion
        )


@dataclass(frozen=True)
class Entry:
    """One entry of a build context: a relative path and what is there."""

    path: str
    kind: str  # "file", "dir", "link"
    mode: int


def context_entries(root: Path, patterns: Iterable[str], dockerfile: str = "Dockerfile",
                    ) -> list[Entry]:
    """Every file, folder and link Docker sends for ``root``, sorted by path.

    Like the CLI, the Dockerfile and the .dockerignore are always sent, even
    when a pattern excludes them.
    """
    rules = [*patterns, f"!{IGNORE_FILE}", f"!{_clean(dockerfile)}"]
    matcher = Matcher(rules)
    return sorted(_walk(root, "", matcher), key=lambda e: e.path)


def _walk(root: Path, relative: str, matcher: Matcher) -> Iterator[Entry]:
    folder = root / relative if relative else root
    with os.scandir(folder) as listing:
        names = sorted(entry.name for entry in listing)
    for name in names:
        path = f"{relative}/{name}" if relative else name
        entry = _entry(root / path, path)
        is_dir = entry.kind == "dir"
        if matcher.excluded(path):
            if is_dir and matcher.has_exclusions and matcher.may_hold_exceptions(path):
                yield from _walk(root, path, matcher)
            continue
        yield entry
        if is_dir:
            yield from _walk(root, path, matcher)


def _entry(full: Path, path: str) -> Entry:
    stat = full.lstat()
    if full.is_symlink():
        kind = "link"
    elif full.is_dir():
        kind = "dir"
    else:
        kind = "file"
    return Entry(path, kind, stat.st_mode & 0o7777)


def _parse(raw: str) -> Pattern:
    text = raw.strip()
    exclusion = text.startswith("!")
    if exclusion:
        text = text[1:]
    return Pattern(_clean(text) if text else text, exclusion)


def _clean(path: str) -> str:
    """Go's ``filepath.Clean`` for '/'-separated paths (``normpath`` keeps a leading ``//``)."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _translate(pattern: str) -> str:
    """moby's pattern-to-regexp: ``*`` and ``?`` stop at '/', ``**`` crosses it."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            out.append(re.escape(pattern[i]) if i < n else "\\\\")
            i += 1 if i < n else 0
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append("\\[")
            else:
                out.append("[" + pattern[i:end].replace("\\", "\\\\") + "]")
                i = end + 1
        elif char in _REGEX_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(re.escape(char))
    out.append("$")
    return "".join(out)
