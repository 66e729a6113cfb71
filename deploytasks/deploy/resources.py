"""Memory sizes as people write them (512Mi, 2g, 1.5Gi) turned into bytes and Docker units."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def memory_bytes(text: str) -> int:
    """Bytes in a memory size; binary units (Docker and Kubernetes agree on Mi/Gi here)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a memory size; write e.g. 512Mi, 2Gi or 1g")
    number, unit, _ = match.groups()
    return int(float(number) * 1024 ** _POWERS[unit.lower()])


def docker_memory(text: str) -> str:
    """A memory size in the unit Docker's ``mem_limit`` takes (whole MiB)."""
    return f"{max(1, memory_bytes(text) // (1024 * 1024))}m"


def kubernetes_memory(text: str) -> str:
    """A memory size as a Kubernetes quantity (whole MiB: ``2g`` → ``2048Mi``; Kubernetes
    reads a lower-case ``g`` as no unit it knows)."""
    return f"{max(1, memory_bytes(text) // (1024 * 1024))}Mi"


def kubernetes_cpu(cores: float) -> str:
    """CPU cores as a Kubernetes quantity: whole cores as a number, else millicores."""
    return str(int(cores)) if float(cores).is_integer() else f"{max(1, round(cores * 1000))}m"
