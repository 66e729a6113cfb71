"""The expected failures of deploytasks, each carrying its exit code.

Exit codes (the contract in the README's "Exit codes"): 0 success; 1 the work found problems;
2 bad usage or configuration; 3 a required service is unreachable. Anything
that is not a ``DeployTasksError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130


class DeployTasksError(Exception):
    """A failure the user can fix: says where, what is wrong, and what to do."""

    exit_code = EXIT_PROBLEMS

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} — {self.hint}" if self.hint else text


class UsageError(DeployTasksError):
    """The command was called with options that cannot work."""

    exit_code = EXIT_USAGE


class ConfigError(DeployTasksError):
    """The configuration files or variables are invalid."""

    exit_code = EXIT_USAGE


class ServiceUnavailable(DeployTasksError):
    """A required service (Prefect API, Docker engine, registry) does not answer."""

    exit_code = EXIT_UNAVAILABLE


class WorkFailed(DeployTasksError):
    """The work ran and found problems (invalid flows, failed deployments, ...)."""

    exit_code = EXIT_PROBLEMS


class Interrupted(DeployTasksError):
    """Ctrl-C: the message says what finished and what did not."""

    exit_code = EXIT_INTERRUPTED
