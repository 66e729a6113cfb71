"""The one result type of every check, from discovery to work pools: a ``Finding``.

A finding says how bad it is (``error``: its subject is invalid, or left out of the
deploy; ``warning``: shown, and failing only under ``--strict``), where it is (a
repository file and line; for a setting, where it was set: a file and line, or the
variable or option that set it), what is wrong, what to do, and what it is about: a
flow (its key), one of its deployments (kind and name), a setting (its dotted path).

The rules that make findings live with their stage: ``flows/rules/`` for a flow's files
(structure, decorator, dependencies, Dockerfile, env file), ``deploy/rules/`` for a
deployment spec before anything is written (parameters, resources, schedules, pools,
what leaves a flow out). The ``--json`` documents keep their documented shapes and are
made here, from the one type, at the edge: a flow's ``errors``/``warnings`` items
(``to_dict``), the ``problems`` items (``problem_document``) and the ``skipped`` items
(``skipped_document``) of ``deploy.*``.

Nothing here imports more than the standard library: discovery, which CI runs on every
pull request, builds thousands of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One thing wrong: how bad, where, what, what to do, and what it is about."""

    severity: str  # ERROR or WARNING
    file: str | None  # repo-relative; for a setting, the source that set it; None: nowhere
    line: int | None
    message: str
    hint: str | None = None
    # What it is about (each may be None): the flow's key, the deployment's kind and name,
    # the setting's dotted path.
    flow: str | None = None
    kind: str | None = None
    deployment: str | None = None
    setting: str | None = None

    @classmethod
    def error(cls, file: str | None, line: int | None, message: str,
              hint: str | None = None) -> Finding:
        """A finding that makes its subject invalid."""
        return cls(ERROR, file, line, message, hint)

    @classmethod
    def warning(cls, file: str | None, line: int | None, message: str,
                hint: str | None = None) -> Finding:
        """A finding that is shown but does not fail its subject (except under --strict)."""
        return cls(WARNING, file, line, message, hint)

    @classmethod
    def problem(cls, deployment: str, setting: str, message: str, hint: str,
                where: tuple[str | None, int | None] = (None, None)) -> Finding:
        """A deployment setting that cannot work; ``where``: the source and line that set it."""
        return cls(ERROR, where[0], where[1], message, hint, deployment=deployment,
                   setting=setting)

    @classmethod
    def skipped(cls, flow: str, kind: str | None, deployment: str | None, reason: str,
                hint: str | None = None) -> Finding:
        """A deployment (or, with ``kind`` None, a whole flow) left out of the deploy."""
        return cls(ERROR, None, None, reason, hint, flow=flow, kind=kind, deployment=deployment)

    @property
    def is_error(self) -> bool:
        """True when the finding fails its subject."""
        return self.severity == ERROR

    @property
    def location(self) -> str | None:
        """``file:line``, or the file alone when no line applies (None: nowhere)."""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def reason(self) -> str:
        """The message, by the name the ``skipped`` documents give it."""
        return self.message

    @property
    def where(self) -> str | None:
        """The location, by the name the ``problems`` documents give it."""
        return self.location

    def __str__(self) -> str:
        """``subject: setting (where): message — hint``, the parts that apply."""
        about = ": ".join(part for part in (self.deployment or self.flow, self.setting) if part)
        where = f" ({self.location})" if self.file else ""
        head = f"{about}{where}: " if about else (f"{self.location}: " if self.file else "")
        return f"{head}{self.message}" + (f" — {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        """A flow's ``errors``/``warnings`` item: ``{severity, file, line, message, hint}``."""
        return {"severity": self.severity, "file": self.file, "line": self.line,
                "message": self.message, "hint": self.hint}


def problem_document(finding: Finding) -> dict[str, Any]:
    """A ``problems`` item: ``{deployment, setting, message, hint, where}``."""
    return {"deployment": finding.deployment, "setting": finding.setting,
            "message": finding.message, "hint": finding.hint, "where": finding.where}


def skipped_document(finding: Finding) -> dict[str, Any]:
    """A ``skipped`` item: ``{flow, type, name, reason, hint}``."""
    return {"flow": finding.flow, "type": finding.kind, "name": finding.deployment,
            "reason": finding.message, "hint": finding.hint}
