"""What discovery finds: flows, their files and parameters, and the findings about them.

Plain frozen dataclasses with their ``--json`` shape; nothing here reads a file. The
findings are the one result type of every check (``deploytasks.findings``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deploytasks.findings import Finding
from deploytasks.flows.imports import ImportRef

__all__ = ["Finding", "FlowFiles", "FlowSpec", "Parameter"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a flow function, as written in the source."""

    name: str
    kind: str  # inspect.Parameter kind, lower case: positional_or_keyword, keyword_only, ...
    annotation: str | None = None
    default: str | None = None  # source text of the default; None when there is none

    @property
    def required(self) -> bool:
        """True when a run must pass a value (no default, not *args/**kwargs)."""
        return self.default is None and not self.kind.startswith("var_")

    def to_dict(self) -> dict[str, Any]:
        """The parameter as plain data for ``--json``."""
        return {**dataclasses.asdict(self), "required": self.required}


@dataclass(frozen=True)
class FlowFiles:
    """The files that shape how a flow is built and run (repo-relative).

    ``dockerfile`` is the one its image is built from: the flow folder's own, else the
    repository's shared one; ``context`` is that build's context (the folder, or ``.``
    for the repository). The files layouts have no files of their own besides the flow
    file: their ``modules`` are the sibling modules the flow file imports.
    """

    dockerfile: str | None = None
    requirements: str | None = None
    env_files: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()
    dockerignore: str | None = None
    modules: tuple[str, ...] = ()  # sibling .py files at the top of the folder
    context: str | None = None  # build context of ``dockerfile``

    @property
    def shared_dockerfile(self) -> bool:
        """True when the image is built from the repository's shared Dockerfile."""
        return self.context == "."

    def to_dict(self) -> dict[str, Any]:
        """The files as plain data for ``--json``."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class FlowSpec:
    """One deployed flow: its key, the flow it deploys, its files, and what is wrong with it.

    A key (a flow folder, a flow file, an entrypoint) usually deploys one flow; when the
    configuration lists several (``flows.<key>.flow: [a, b]``) each is a spec of its own
    with the same ``folder`` and ``several`` set.
    """

    folder: str  # the flow's key: its name in configuration and in deployment names
    path: str  # repo-relative flow file (the folder itself when it holds none)
    directory: str = ""  # repo-relative folder
    line: int | None = None  # line of the ``def``
    end_line: int | None = None
    function: str | None = None  # entrypoint attribute: ``path:function``
    name: str | None = None  # the flow name Prefect will register
    description: str | None = None
    parameters: tuple[Parameter, ...] = ()
    version: str | None = None
    tags: tuple[str, ...] = ()
    is_async: bool = False
    files: FlowFiles = field(default_factory=FlowFiles)
    imports: tuple[ImportRef, ...] = ()
    candidates: tuple[tuple[str, str], ...] = ()  # (function, flow name) of every flow found
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    layout: str = "folders"  # folders | files | entrypoints
    selected_by: str | None = None  # only | main-block | uncalled | configured | entrypoint
    several: bool = False  # its key deploys more than one flow
    guessed: tuple[str, ...] = ()  # unreadable flow: function or flow names it may stand for

    @property
    def valid(self) -> bool:
        """A flow is valid when nothing found is an error."""
        return not self.errors

    @property
    def entrypoint(self) -> str | None:
        """``flows/x/workflow.py:fn``, the form Prefect deployments use."""
        return f"{self.path}:{self.function}" if self.function else None

    @property
    def line_range(self) -> tuple[int, int] | None:
        """First and last line (1-based, inclusive) of the flow function's ``def``."""
        if self.line is None or self.end_line is None:
            return None
        return (self.line, self.end_line)

    def with_findings(self, findings: Sequence[Finding]) -> FlowSpec:
        """A copy with more findings, split into errors and warnings; each is about this
        flow (its key) from now on."""
        if not findings:
            return self
        about = [f if f.flow == self.folder else dataclasses.replace(f, flow=self.folder)
                 for f in findings]
        errors = tuple(f for f in about if f.is_error)
        warnings = tuple(f for f in about if not f.is_error)
        return dataclasses.replace(
            self, errors=self.errors + errors, warnings=self.warnings + warnings
        )

    def to_dict(self) -> dict[str, Any]:
        """The flow as one JSON object (no env values: the spec never holds any)."""
        return {
            "folder": self.folder, "directory": self.directory,
            "name": self.name, "function": self.function,
            "path": self.path, "line": self.line, "end_line": self.end_line,
            "entrypoint": self.entrypoint, "valid": self.valid,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "description": self.description, "version": self.version,
            "tags": list(self.tags), "is_async": self.is_async,
            "parameters": [p.to_dict() for p in self.parameters],
            "files": self.files.to_dict(),
            "candidates": [{"function": f, "name": n} for f, n in self.candidates],
            "imports": sorted({ref.top for ref in self.imports if ref.top}),
            "layout": self.layout, "selected_by": self.selected_by, "several": self.several,
        }


