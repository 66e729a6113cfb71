"""Reading a Dockerfile the way BuildKit does, without building it.

Instructions with their continuation lines joined (the ``# escape=`` directive
honoured), comments dropped and heredocs skipped; then the stages: each ``FROM`` with
its base (global ``ARG`` values substituted) and name, and what later instructions set
in it (``USER``, whether anything is copied in, ``ARG``/``ENV`` values). What cannot be
read — an unknown instruction, one without arguments, a heredoc never closed, an
instruction before the first ``FROM`` — is a finding of the reading, as a syntax error
is of Python's. What a Dockerfile must do is ``rules.dockerfile``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from deploytasks.findings import Finding

KNOWN_INSTRUCTIONS = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
})
_HEREDOC_RE = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VARIABLE_RE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    line: int
    keyword: str  # upper case
    arguments: str


@dataclass
class Stage:
    """One ``FROM`` stage: its base, its name, and what the rules need from it."""

    line: int
    base: str
    name: str | None = None
    user: tuple[int, str] | None = None  # (line, value) of the last USER
    copies: bool = False
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dockerfile:
    """One Dockerfile read: its instructions, its stages, and what could not be read."""

    instructions: list[Instruction]
    stages: list[Stage]
    findings: list[Finding]

    @property
    def final(self) -> Stage | None:
        """The stage the image is made of (None: no FROM)."""
        return self.stages[-1] if self.stages else None

    def chain(self, stage: Stage) -> list[Stage]:
        """The stage and the earlier stages it is built FROM, nearest first."""
        by_name = {each.name: each for each in self.stages if each.name}
        chain = [stage]
        while chain[-1].base in by_name and by_name[chain[-1].base] not in chain:
            chain.append(by_name[chain[-1].base])
        return chain


def read_dockerfile(text: str, rel: str) -> Dockerfile:
    """The instructions and stages of a Dockerfile, with the findings of reading it."""
    instructions, findings = parse_dockerfile(text, rel)
    stages, stage_findings = read_stages(instructions, rel)
    return Dockerfile(instructions, stages, findings + stage_findings)


def parse_dockerfile(text: str, rel: str) -> tuple[list[Instruction], list[Finding]]:
    """Instructions with continuations joined, heredocs skipped, comments dropped."""
    lines = text.splitlines()
    escape = _escape_directive(lines)
    instructions: list[Instruction] = []
    findings: list[Finding] = []
    index = 0
    while (logical := _logical_line(lines, index, escape)) is not None:
        findings += _continuation_findings(logical, rel, escape)
        index = _skip_heredocs(logical.text, lines, logical.end, rel, findings)
        instructions += _instruction(logical.text, logical.line, rel, findings)
    return instructions, findings


def _escape_directive(lines: list[str]) -> str:
    for line in lines:
        match = re.match(r"\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)", line)
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            return match.group(2)
    return "\\"


@dataclass(frozen=True)
class _Logical:
    """One instruction's text across its continuation lines."""

    text: str
    line: int  # 1-based line of its first line
    end: int  # index of the line after it
    empty_continuation: bool = False  # a blank line inside the continuation (deprecated)
    dangling: bool = False  # the file ends inside the continuation


def _logical_line(lines: list[str], index: int, escape: str) -> _Logical | None:
    """The next instruction from ``index``: comment lines skipped, continuations joined."""
    parts: list[str] = []
    first, empty = 0, False
    while index < len(lines):
        raw = lines[index].rstrip()
        index += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            empty = empty or (bool(parts) and not raw.strip())
            continue
        first = first or index
        if not raw.endswith(escape):
            parts.append(raw)
            return _Logical(_join(parts), first, index, empty)
        parts.append(raw[:-1])
    return _Logical(_join(parts), first, index, empty, dangling=True) if parts else None


def _join(parts: list[str]) -> str:
    return " ".join(part.strip() for part in parts if part.strip())


def _continuation_findings(logical: _Logical, rel: str, escape: str) -> list[Finding]:
    findings = []
    if logical.empty_continuation:
        findings.append(Finding.warning(
            rel, logical.line, "empty line inside a line continuation (deprecated by BuildKit)",
            "remove the empty line, or make it a comment",
        ))
    if logical.dangling:
        findings.append(Finding.warning(
            rel, logical.line, f"the file ends inside a line continuation ({escape})",
            f"remove the trailing {escape} from the last instruction",
        ))
    return findings


def _skip_heredocs(
    logical: str, lines: list[str], index: int, rel: str, found: list[Finding]
) -> int:
    for match in _HEREDOC_RE.finditer(logical):
        start, word, strip = index, match.group(3), bool(match.group(1))
        while index < len(lines) and (lines[index].strip() if strip else lines[index]) != word:
            index += 1
        if index >= len(lines):
            found.append(Finding.error(rel, start, f"heredoc <<{word} is never closed",
                                       f"end it with a line holding only {word}"))
        index += 1
    return index


def _instruction(logical: str, line: int, rel: str, findings: list[Finding]) -> list[Instruction]:
    keyword, _, arguments = logical.partition(" ")
    if keyword.upper() not in KNOWN_INSTRUCTIONS:
        findings.append(Finding.error(
            rel, line, f"unknown instruction {keyword[:40]!r}",
            "use a Dockerfile instruction (FROM, RUN, COPY, USER, ...); continue long lines "
            "with a trailing backslash",
        ))
        return []
    if not arguments.strip():
        findings.append(Finding.error(rel, line, f"{keyword.upper()} has no arguments",
                                      "give the instruction its arguments"))
        return []
    return [Instruction(line, keyword.upper(), arguments.strip())]


def read_stages(instructions: list[Instruction], rel: str) -> tuple[list[Stage], list[Finding]]:
    """The ``FROM`` stages, in order; instructions before the first ``FROM`` other than
    ``ARG`` are findings."""
    stages: list[Stage] = []
    findings: list[Finding] = []
    global_args: dict[str, str] = {}
    for item in instructions:
        if item.keyword == "FROM":
            stages.append(_from(item, global_args))
        elif not stages:
            if item.keyword != "ARG":
                findings.append(Finding.error(rel, item.line, f"{item.keyword} before FROM",
                                              "only ARG may come before the first FROM"))
            global_args.update(_assignments(item.arguments))
        else:
            _apply(stages[-1], item, global_args)
    return stages, findings


def _from(item: Instruction, global_args: dict[str, str]) -> Stage:
    words = [word for word in item.arguments.split() if not word.startswith("--")]
    image = substitute(words[0], global_args) if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return Stage(line=item.line, base=image, name=name)


def _apply(stage: Stage, item: Instruction, global_args: Mapping[str, str]) -> None:
    if item.keyword in ("COPY", "ADD"):
        stage.copies = True
    elif item.keyword == "USER":
        stage.user = (item.line, item.arguments.split()[0])
    elif item.keyword == "ARG":
        for key, value in _assignments(item.arguments).items():
            stage.variables[key] = value or global_args.get(key, "")
    elif item.keyword == "ENV":
        stage.variables.update(_env_assignments(item.arguments))


def _assignments(arguments: str) -> dict[str, str]:
    """``ARG A=1 B`` → {"A": "1", "B": ""}; quotes around values removed."""
    result: dict[str, str] = {}
    for word in arguments.split():
        key, _, value = word.partition("=")
        result[key] = value.strip("\"'")
    return result


def _env_assignments(arguments: str) -> dict[str, str]:
    if "=" not in arguments.split()[0]:  # legacy form: ENV KEY value
        key, _, value = arguments.partition(" ")
        return {key: value.strip()}
    return _assignments(arguments)


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Expand ``$X``, ``${X}`` and ``${X:-default}`` where X has a value; leave the rest."""
    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        value = variables.get(name, "")
        if value:
            return value
        default = re.match(r"\$\{[^:}]*:?-([^}]*)\}", match.group(0))
        return default.group(1) if default else match.group(0)

    return _VARIABLE_RE.sub(expand, text)
