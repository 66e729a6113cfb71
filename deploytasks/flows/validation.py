"""Check each discovered flow for what would break it at build or run time.

Four checks, each returning findings with a file, a line and what to do:
Python dependencies (every import resolvable: ``dependency_checks``), the
Dockerfile (when the flow is deployed as a container: its own, or the repository's
shared one), and its env files (syntax and required keys — values are never kept,
so no output can show them). Everything is read, never run; one flow's problems
never change another flow's result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from deploytasks.flows.dependency_checks import (
    MAX_MODULES,
    Repository,
    check_dependencies,
    module_files,
)
from deploytasks.flows.discovery import (
    CONFIG_HINT,
    Finding,
    FlowSpec,
    collector_paused,
    parallel_map,
    read_text,
)

__all__ = ["MAX_MODULES", "Repository", "ValidationOptions", "check_dependencies",
           "check_docker", "check_dockerfile", "check_env_files", "flow_findings",
           "module_files", "parse_env_keys", "validate", "validate_flow"]

DEFAULT_KINDS = ("python", "docker")


@dataclass(frozen=True)
class ValidationOptions:
    """Per-folder settings from the configuration: deployment kinds and required env keys.

    A folder missing from ``kinds`` is deployed as a container only if it has a Dockerfile.
    """

    kinds: Mapping[str, Sequence[str]] = field(default_factory=dict)  # folder → python/docker
    required_env: Mapping[str, Sequence[str]] = field(default_factory=dict)  # folder → keys
    # folders whose kinds the configuration sets for that flow itself (not from defaults)
    explicit_kinds: frozenset[str] = frozenset()


def validate(
    root: Path, specs: Sequence[FlowSpec], options: ValidationOptions | None = None
) -> list[FlowSpec]:
    """Every spec with its validation findings added."""
    options = options or ValidationOptions()
    check = partial(flow_findings, root, options=options, repo=Repository.read(root))
    specs = list(specs)
    with collector_paused():
        found = parallel_map(check, specs)
    return [spec.with_findings(more) for spec, more in zip(specs, found, strict=True)]


def validate_flow(
    root: Path, spec: FlowSpec, options: ValidationOptions, repo: Repository | None = None
) -> FlowSpec:
    """One flow with its validation findings added."""
    return spec.with_findings(flow_findings(root, spec, options, repo))


def flow_findings(
    root: Path, spec: FlowSpec, options: ValidationOptions, repo: Repository | None = None
) -> list[Finding]:
    """One flow's dependency, Docker and env-file findings. A bug in a check stays here."""
    if spec.path == spec.directory or not spec.path.endswith(".py"):
        return []  # no flow file (or an unsafe folder): discovery has said all there is
    repo = repo or Repository.read(root)
    findings: list[Finding] = []
    kinds = _kinds(spec, options)
    for check in (
        lambda: check_dependencies(root, spec, "docker" in kinds, repo),
        lambda: check_docker(root, spec, kinds, spec.folder in options.explicit_kinds, repo),
        lambda: check_env_files(root, spec, options.required_env.get(spec.folder, ())),
    ):
        try:
            findings += check()
        except Exception as error:
            findings.append(Finding.error(
                spec.directory, None, f"deploytasks could not check this flow: {error!r}",
                "this is a bug in deploytasks; please report it with the files involved",
            ))
    return findings


def _kinds(spec: FlowSpec, options: ValidationOptions) -> tuple[str, ...]:
    """Configured kinds; by default a flow is deployed as a container when it has a Dockerfile."""
    if spec.folder in options.kinds:
        return tuple(options.kinds[spec.folder])
    return DEFAULT_KINDS if spec.files.dockerfile else ("python",)


# --- Dockerfile ----------------------------------------------------------------------------

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
    """One ``FROM`` stage: its base, its name, and what the checks need from it."""

    line: int
    base: str
    name: str | None = None
    user: tuple[int, str] | None = None  # (line, value) of the last USER
    copies: bool = False
    variables: dict[str, str] = field(default_factory=dict)


def check_docker(
    root: Path, spec: FlowSpec, kinds: Sequence[str], explicit: bool = False,
    repo: Repository | None = None,
) -> list[Finding]:
    """A container flow needs a well-formed Dockerfile with a pinned base, non-root user, code.

    Without a Dockerfile (its own or the repository's shared one), docker deployment is
    an error when configured for this flow, and a warning when it only comes from the
    defaults. A shared Dockerfile builds with the whole repository as its context, so
    the repository should have a ``.dockerignore``.
    """
    if "docker" not in kinds:
        return []
    if not spec.files.dockerfile:
        return [_no_dockerfile(spec, explicit)]
    rel = spec.files.dockerfile
    cache = repo.dockerfiles if repo is not None else {}
    if rel not in cache:
        text, problem = read_text(root / rel, root)
        cache[rel] = check_dockerfile(text, rel) if text is not None else \
            ([problem] if problem else [])
    findings = list(cache[rel])
    if spec.files.shared_dockerfile and not spec.files.dockerignore:
        findings.append(Finding.warning(
            rel, None, f"{rel} builds with the whole repository as its context, and the "
            "repository has no .dockerignore: .git, virtualenvs and secrets would be sent "
            "to the builder", "add a .dockerignore at the repository root (e.g. .git, .venv, "
            ".env, **/__pycache__)",
        ))
    return findings


def _no_dockerfile(spec: FlowSpec, explicit: bool) -> Finding:
    how = "configured" if explicit else "deployed by default"
    if spec.layout == "folders":
        where, missing = spec.directory, "the folder has no Dockerfile"
        first = f"add {spec.directory}/Dockerfile, or "
    else:
        where, missing = spec.path, "the repository has no shared Dockerfile"
        first = ""
    return Finding(
        "error" if explicit else "warning", where, None,
        f"{how} as a docker deployment, but {missing}",
        f"{first}add a shared Dockerfile at the repository root (or set docker.dockerfile), "
        f"or set flows.{spec.folder}.kinds: [python] in {CONFIG_HINT}",
    )


def check_dockerfile(text: str, rel: str) -> list[Finding]:
    """Syntax, then the stages: FROM present and pinned, final stage non-root and with code."""
    instructions, findings = parse_dockerfile(text, rel)
    stages, stage_findings = _stages(instructions, rel)
    findings += stage_findings
    if not stages:
        if not any(f.severity == "error" for f in findings):
            findings.append(Finding.error(rel, None, "no FROM instruction",
                                          "start the Dockerfile with FROM <image>:<tag>"))
        return findings
    by_name = {stage.name: stage for stage in stages if stage.name}
    findings += _final_stage_findings(stages[-1], by_name, rel)
    return findings


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


def _stages(instructions: list[Instruction], rel: str) -> tuple[list[Stage], list[Finding]]:
    stages: list[Stage] = []
    findings: list[Finding] = []
    global_args: dict[str, str] = {}
    for item in instructions:
        if item.keyword == "FROM":
            stages.append(_from(item, global_args, stages, rel, findings))
        elif not stages:
            if item.keyword != "ARG":
                findings.append(Finding.error(rel, item.line, f"{item.keyword} before FROM",
                                              "only ARG may come before the first FROM"))
            global_args.update(_assignments(item.arguments))
        else:
            _apply(stages[-1], item, global_args)
    return stages, findings


def _from(
    item: Instruction, global_args: dict[str, str], stages: list[Stage], rel: str,
    findings: list[Finding],
) -> Stage:
    words = [word for word in item.arguments.split() if not word.startswith("--")]
    image = substitute(words[0], global_args) if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    stage = Stage(line=item.line, base=image, name=name)
    if image and "$" not in image and image not in {s.name for s in stages} | {"scratch"}:
        findings += _pin_findings(image, item.line, rel)
    return stage


def _pin_findings(image: str, line: int, rel: str) -> list[Finding]:
    if "@" in image:
        return []  # pinned by digest
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if tag and tag != "latest":
        return []
    problem = "uses the :latest tag" if tag else "has no tag (so it means :latest)"
    return [Finding.warning(
        rel, line, f"base image {image} {problem}, so builds are not reproducible",
        "pin a version, e.g. prefecthq/prefect:3.9.1-python3.11 or python:3.11-slim",
    )]


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


def _final_stage_findings(final: Stage, by_name: Mapping[str, Stage], rel: str) -> list[Finding]:
    chain = _stage_chain(final, by_name)
    findings: list[Finding] = []
    user = next((stage.user for stage in chain if stage.user), None)
    if user is None:
        findings.append(Finding.error(
            rel, final.line, "the final stage sets no USER, so the container runs as root",
            "add 'USER 1000' (or a named non-root user) after the steps that need root",
        ))
    else:
        findings += _root_user(user, final, rel)
    if not any(stage.copies for stage in chain):
        findings.append(Finding.error(
            rel, final.line, "the final stage copies nothing in, so the image lacks the flow code",
            "COPY the flow folder into the image, e.g. 'COPY . /opt/prefect/flow'",
        ))
    return findings


def _stage_chain(stage: Stage, by_name: Mapping[str, Stage]) -> list[Stage]:
    """The stage and the earlier stages it is built FROM, nearest first."""
    chain = [stage]
    while chain[-1].base in by_name and by_name[chain[-1].base] not in chain:
        chain.append(by_name[chain[-1].base])
    return chain


def _root_user(user: tuple[int, str], final: Stage, rel: str) -> list[Finding]:
    line, value = user
    name = substitute(value, final.variables).partition(":")[0]
    if name not in ("root", "0"):
        return []
    return [Finding.error(
        rel, line, f"the final stage runs as root (USER {value})",
        "switch to a non-root user, e.g. 'USER 1000', after the steps that need root",
    )]


# --- env files -----------------------------------------------------------------------------

_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_env_files(root: Path, spec: FlowSpec, required: Sequence[str] = ()) -> list[Finding]:
    """Every env file parses; ``.env`` and ``.env.example`` hold every required key."""
    findings: list[Finding] = []
    keys_by_file: dict[str, set[str]] = {}
    for rel in spec.files.env_files:
        text, problem = read_text(root / rel, root)
        if text is None:
            findings += [problem] if problem else []
            continue
        keys, file_findings = parse_env_keys(text, rel)
        keys_by_file[rel] = set(keys)
        findings += file_findings
    return findings + _required_keys(spec, keys_by_file, required)


def parse_env_keys(text: str, rel: str) -> tuple[dict[str, int], list[Finding]]:
    """The keys of an env file (name → line) and its problems. Values are read past, never kept."""
    keys: dict[str, int] = {}
    findings: list[Finding] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.removeprefix("export ").partition("=")
        problem = _env_key_problem(key.strip(), bool(has_value), number, rel)
        if problem:
            findings.append(problem)
            continue
        index = _skip_quoted(value.strip(), lines, index, number, rel, findings)
        findings += _duplicate_key(key.strip(), number, keys, rel)
    return keys, findings


def _env_key_problem(key: str, has_value: bool, line: int, rel: str) -> Finding | None:
    hint = "write KEY=VALUE: a name of letters, digits and _, not starting with a digit"
    if not has_value:
        return Finding.error(rel, line, f"line {line} is not KEY=VALUE", hint)
    if not key:
        return Finding.error(rel, line, f"line {line} has an empty name before '='", hint)
    if not _ENV_NAME_RE.match(key):
        # The "name" may hold a value typed with ':' instead of '=': never echo it.
        return Finding.error(rel, line, f"line {line}: the text before '=' is not a valid "
                             "variable name", hint)
    return None


def _skip_quoted(value: str, lines: list[str], index: int, line: int, rel: str,
                 findings: list[Finding]) -> int:
    """Step past a quoted value that spans lines; report one that never closes."""
    quote = value[:1]
    if quote not in ("'", '"'):
        return index
    rest = value[1:]
    while not _closes(rest, quote):
        if index >= len(lines):
            findings.append(Finding.error(rel, line, f"the value on line {line} opens a {quote} "
                                          "quote that is never closed", f"close the {quote} quote"))
            return index
        rest, index = lines[index], index + 1
    return index


def _closes(text: str, quote: str) -> bool:
    escaped = False
    for char in text:
        if char == quote and not escaped:
            return True
        escaped = quote == '"' and char == "\\" and not escaped
    return False


def _duplicate_key(key: str, line: int, keys: dict[str, int], rel: str) -> list[Finding]:
    if key not in keys:
        keys[key] = line
        return []
    return [Finding.warning(
        rel, line, f"{key} is set on line {keys[key]} and again on line {line}; the last one wins",
        "keep one assignment",
    )]


def _required_keys(
    spec: FlowSpec, keys_by_file: Mapping[str, set[str]], required: Sequence[str]
) -> list[Finding]:
    """Required keys must be in ``.env`` and ``.env.example`` (whichever exist)."""
    if not required:
        return []
    checked = {rel: keys for rel, keys in keys_by_file.items()
               if rel.rsplit("/", 1)[-1] in (".env", ".env.example")}
    setting = f"flows.{spec.folder}.required_env"
    if not checked:
        return [Finding.error(
            spec.directory, None, f"{setting} lists {', '.join(required)}, but the folder has no "
            ".env or .env.example", f"add {spec.directory}/.env.example with those keys",
        )]
    return [
        Finding.error(rel, None, f"{rel} lacks {', '.join(missing)}, required by {setting}",
                      f"add {missing[0]}=... to {rel} (values are never shown)")
        for rel, keys in checked.items()
        if (missing := [key for key in required if key not in keys])
    ]
