"""Values of ``env_vars`` as Prefect Secret blocks, so a deployment never holds them.

Each value a deployment's ``env_vars`` names is stored in a Secret block of the project,
and the job variables reference it (``{{ prefect.blocks.secret.<name> }}``): the worker
resolves the reference when it starts a run, and anyone reading the deployment sees only
the block's name. A block's name is derived from the project, the environment, the flow
key and the variable (block names are lower-case letters, digits and dashes; a short
hash of the four keeps ``API_KEY`` and ``api-key`` apart), so it is stable across runs
and unique per value a flow may have in an environment.

Whose a block is: a Prefect Variable per block (``deploytasks-secret-<name>``) tagged
with the ownership tag, ``project:<name>`` and ``env:<env>``, like the drift records; a
block without that record is not ours and never written or deleted. A changed value is
seen by comparing digests of the value on the server and the value here (neither is
printed); an unchanged one sends no write.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

RECORD_PREFIX = "deploytasks-secret-"
_NOT_NAME = re.compile(r"[^a-z0-9]+")
SecretAction = Literal["create", "update", "unchanged", "conflict"]


class HasSecrets(Protocol):
    """A deployment spec, as far as its secrets go."""

    @property
    def name(self) -> str: ...

    @property
    def secrets(self) -> tuple[SecretValue, ...]: ...


@dataclass(frozen=True)
class SecretValue:
    """One value a deployment's env gets from a Secret block."""

    block: str  # the Secret block's name
    key: str  # the environment variable
    value: str = field(repr=False)

    @property
    def digest(self) -> str:
        return digest(self.value)


def digest(value: str) -> str:
    """How two values are compared (never printed, never stored)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def block_name(project: str, env: str, flow: str, key: str) -> str:
    """``dt-<project>-<env>-<flow>-<key>-<hash>``, lower case, digits and dashes only."""
    words = [_slug(part) for part in (project, env, flow, key)]
    unique = hashlib.sha256("\0".join((project, env, flow, key)).encode()).hexdigest()[:8]
    return "-".join(["dt", *[word[:24] for word in words if word], unique])


def reference(block: str) -> str:
    """The job-variable value that the worker resolves to the block's value."""
    return "{{ prefect.blocks.secret." + block + " }}"


def record_name(block: str) -> str:
    """The Variable that says the block is the project's."""
    return RECORD_PREFIX + block


def _slug(text: str) -> str:
    return _NOT_NAME.sub("-", text.lower()).strip("-")


@dataclass(frozen=True)
class SecretChange:
    """What a deploy does to one Secret block (its value is never part of it)."""

    block: str
    key: str
    action: SecretAction
    deployments: tuple[str, ...] = ()

    def to_document(self) -> dict[str, object]:
        return {"name": self.block, "key": self.key, "action": self.action,
                "deployments": list(self.deployments)}


def plan_secrets(wanted: dict[str, tuple[SecretValue, list[str]]],
                 server: dict[str, str | None], owned: set[str]) -> list[SecretChange]:
    """Each wanted block against the server: ``server`` maps block names that exist to the
    digest of their value (None: unreadable), ``owned`` the blocks our records claim."""
    changes = []
    for name, (secret, deployments) in sorted(wanted.items()):
        if name not in server:
            action: SecretAction = "create"
        elif name not in owned:
            action = "conflict"
        else:
            action = "unchanged" if server[name] == secret.digest else "update"
        changes.append(SecretChange(name, secret.key, action, tuple(sorted(deployments))))
    return changes


def wanted_secrets(specs: Iterable[HasSecrets]) -> dict[str, tuple[SecretValue, list[str]]]:
    """Every Secret block the specs reference, with the deployments that use it."""
    wanted: dict[str, tuple[SecretValue, list[str]]] = {}
    for spec in specs:
        for secret in spec.secrets:
            wanted.setdefault(secret.block, (secret, []))[1].append(spec.name)
    return wanted


def blocked_by_conflicts(changes: list[SecretChange]) -> dict[str, str]:
    """Deployments that must not be written: a block they reference is not ours."""
    return {name: f"secret block '{change.block}' ({change.key}) exists but is not this "
                  "project's: rename the variable or remove that block"
            for change in changes if change.action == "conflict"
            for name in change.deployments}
