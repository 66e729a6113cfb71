"""A folder of wheels, made on the host, that installs Prefect inside a container offline.

Containers here cannot reach the package index (pip fails TLS verification
inside them), so the host downloads wheels for the container's Python and
platform. One catch: pip evaluates environment markers against the *host*
interpreter even with ``--python-version``, and Debian's python is 3.11.2
where the host may run 3.11.7 — redis, for one, needs ``async-timeout`` only
below 3.11.3. So after the download the dependency closure is walked again
with the container's own marker environment, and whatever is missing is
downloaded too, until nothing is.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from deploytasks.errors import WorkFailed
from deploytasks.images.process import LineSink, run_streamed

MAX_ROUNDS = 6
COMPLETE_MARKER = ".complete"
PLATFORMS = ("manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)),
             "linux_x86_64")

# Prints the PEP 508 marker environment of the interpreter that runs it (stdlib only).
MARKER_ENV_SCRIPT = """
import json, os, platform, sys
v = sys.implementation.version
iv = f"{v.major}.{v.minor}.{v.micro}" + ("" if v.releaselevel == "final"
                                          else v.releaselevel[0] + str(v.serial))
print(json.dumps({
    "implementation_name": sys.implementation.name, "implementation_version": iv,
    "os_name": os.name, "platform_machine": platform.machine(),
    "platform_release": platform.release(), "platform_system": platform.system(),
    "platform_version": platform.version(), "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform}))
"""


def ensure_wheelhouse(folder: Path, requirement: str, env: Mapping[str, str],
                      on_line: LineSink | None = None) -> Path:
    """Download ``requirement`` and its closure for ``env`` into ``folder`` (cached)."""
    if (folder / COMPLETE_MARKER).is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    constraints = folder / "host-constraints.txt"
    constraints.write_text(host_constraints(), encoding="utf-8")
    wanted = [requirement]
    for _ in range(MAX_ROUNDS):
        _download(folder, wanted, env, constraints, on_line)
        missing = unmet_requirements(folder, [requirement], env)
        if not missing:
            (folder / COMPLETE_MARKER).write_text(requirement + "\n", encoding="utf-8")
            return folder
        wanted = [_without_marker(req) for req in missing]
    raise WorkFailed(f"the wheelhouse for {requirement} is still missing {', '.join(wanted)}",
                     where=str(folder), hint="delete the folder and run `invoke images.base` "
                                             "again; check that PyPI is reachable")


def host_constraints() -> str:
    """The host's installed versions as pip constraints, so the image matches what we test."""
    lines = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) != "deploytasks":
            lines.add(f"{canonicalize_name(name)}=={dist.version}")
    return "\n".join(sorted(lines)) + "\n"


def unmet_requirements(folder: Path, roots: Iterable[str],
                       env: Mapping[str, str]) -> list[Requirement]:
    """Requirements of the closure of ``roots`` (under ``env``) that no wheel satisfies."""
    wheels = _wheels(folder)
    queue = [Requirement(root) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    missing: list[Requirement] = []
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        match = next((path for version, path in wheels.get(name, [])
                      if req.specifier.contains(version, prereleases=True)), None)
        if match is None:
            missing.append(req)
            continue
        queue.extend(_active_dependencies(match, req.extras, env))
    return sorted(missing, key=lambda r: r.name)


def _active_dependencies(wheel: Path, extras: set[str],
                         env: Mapping[str, str]) -> list[Requirement]:
    deps = []
    for line in _requires_dist(wheel):
        dep = Requirement(line)
        if dep.marker is None or any(
                dep.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""})):
            deps.append(dep)
    return deps


def _requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode("utf-8", errors="replace")
    message = email.parser.Parser().parsestr(text, headersonly=True)
    return message.get_all("Requires-Dist") or []


def _wheels(folder: Path) -> dict[str, list[tuple[Version, Path]]]:
    found: dict[str, list[tuple[Version, Path]]] = {}
    for path in folder.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(path.name)
        found.setdefault(str(name), []).append((version, path))
    return found


def _without_marker(req: Requirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def _download(folder: Path, requirements: list[str], env: Mapping[str, str],
              constraints: Path, on_line: LineSink | None) -> None:
    version = env.get("python_version", "3.11")
    abi = "cp" + version.replace(".", "")
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
               "--only-binary=:all:", "--python-version", version, "--implementation", "cp",
               "--abi", abi, "--abi", "abi3", "--abi", "none", *platforms,
               "--dest", str(folder), "--constraint", str(constraints), *requirements]
    run_streamed(command, on_line, what=f"pip download {' '.join(requirements)}",
                 hint="check that PyPI is reachable from this machine")

