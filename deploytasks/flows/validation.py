"""Check each discovered flow for what would break it at build or run time.

Runs the three validation rules of ``flows/rules/`` on every flow, each returning
findings with a file, a line and what to do: Python dependencies (every import
resolvable: ``rules.dependencies``), the Dockerfile (when the flow is deployed as a
container, its own or the repository's shared one: ``rules.dockerfile``), and its env
files (syntax and required keys; values are never kept, so no output can show them:
``rules.env_file``). Everything is read, never run; one flow's problems never change
another flow's result, and a rule that fails with a bug stays inside its flow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from deploytasks.findings import Finding
from deploytasks.flows.model import FlowSpec
from deploytasks.flows.parallel import collector_paused, parallel_map
from deploytasks.flows.repository import Repository
from deploytasks.flows.rules.dependencies import MAX_MODULES, check_dependencies, module_files
from deploytasks.flows.rules.dockerfile import check_docker, check_dockerfile
from deploytasks.flows.rules.env_file import check_env_files, parse_env_keys

__all__ = ["MAX_MODULES", "VALIDATION_RULES", "FlowContext", "Repository", "ValidationOptions",
           "check_dependencies", "check_docker", "check_dockerfile", "check_env_files",
           "flow_findings", "module_files", "parse_env_keys", "validate", "validate_flow"]

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


@dataclass(frozen=True)
class FlowContext:
    """What every validation rule is given: the repository, one flow, its configuration."""

    root: Path
    spec: FlowSpec
    kinds: tuple[str, ...]  # what it is deployed as
    explicit_kinds: bool  # its own section sets them (not the defaults)
    required_env: tuple[str, ...]
    repo: Repository


def _dependencies(flow: FlowContext) -> list[Finding]:
    return check_dependencies(flow.root, flow.spec, "docker" in flow.kinds, flow.repo)


def _dockerfile(flow: FlowContext) -> list[Finding]:
    return check_docker(flow.root, flow.spec, flow.kinds, flow.explicit_kinds, flow.repo)


def _env_files(flow: FlowContext) -> list[Finding]:
    return check_env_files(flow.root, flow.spec, flow.required_env)


ValidationRule = Callable[[FlowContext], list[Finding]]
VALIDATION_RULES: tuple[ValidationRule, ...] = (_dependencies, _dockerfile, _env_files)


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
    """One flow's findings from every rule of ``VALIDATION_RULES``. A bug in a rule stays here."""
    if spec.path == spec.directory or not spec.path.endswith(".py"):
        return []  # no flow file (or an unsafe folder): discovery has said all there is
    flow = FlowContext(root, spec, _kinds(spec, options), spec.folder in options.explicit_kinds,
                       tuple(options.required_env.get(spec.folder, ())),
                       repo or Repository.read(root))
    findings: list[Finding] = []
    for rule in VALIDATION_RULES:
        try:
            findings += rule(flow)
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
