"""The events a deploy reports while it works: the contract between the service and whoever
shows it (the console's live lines and progress bar; nothing, for the Python API).

They arrive in this order: ``promoting`` (env.promote only), ``planned``, then
``applying``, one ``finished`` per deployment as each one finishes, and
``applied`` (also when the run is interrupted). How long the run waited because
the server asked it to is in the result (``RequestCounter.pace``), not an event:
it is told once, at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from deploytasks.deploy.apply import Outcome
    from deploytasks.deploy.plan import Plan


class Progress(Protocol):
    """Receives a deploy's events; each hook returns at once (the writes wait for it)."""

    def promoting(self, source: str, target: str) -> None:
        """``env.promote`` is about to plan ``target`` from what ``source`` runs."""

    def planned(self, plan: Plan) -> None:
        """The plan was read from the server; nothing was written yet."""

    def applying(self, writes: int) -> None:
        """The plan's ``writes`` creates and updates start."""

    def finished(self, outcome: Outcome) -> None:
        """One deployment was written, or failed."""

    def applied(self) -> None:
        """The writes are over: all finished, or the run was interrupted."""


class Silent:
    """A ``Progress`` that shows nothing (the Python API, scripts)."""

    def promoting(self, source: str, target: str) -> None:
        """Nothing to show."""

    def planned(self, plan: Plan) -> None:
        """Nothing to show."""

    def applying(self, writes: int) -> None:
        """Nothing to show."""

    def finished(self, outcome: Outcome) -> None:
        """Nothing to show."""

    def applied(self) -> None:
        """Nothing to show."""


SILENT = Silent()
