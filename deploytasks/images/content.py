"""Image names and content tags: pure functions of a flow folder and its build inputs.

An image gets two tags: the mutable one users configure (``latest``) and an
immutable ``c-<12 hex>`` tag over everything that goes into the image — the
context files Docker would send (``.dockerignore`` honoured), their modes, the
Dockerfile, the build arguments and the base image. Same inputs, same tag:
that is what lets a rebuild with no change skip the builder entirely, and a
deployment pin exactly the image that was tested.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from deploytasks.images.dockerignore import Entry, context_entries, load_patterns

HASH_VERSION = "deploytasks-image-content/1"
CONTENT_TAG_PREFIX = "c-"
CONTENT_TAG_LENGTH = 12
IMAGE_SUFFIX = "-worker"

# distribution/reference's grammar (reference/regexp.go), anchored.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
NAME_TOTAL_LENGTH_MAX = 255

# Files that usually hold secrets; warned about when they would enter an image.
SECRET_GLOBS = (".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*",
                "id_ecdsa*", ".netrc", ".npmrc", ".pypirc", ".git-credentials", "credentials*",
                "secrets.*", "*.kubeconfig", "kubeconfig")
SECRET_SAFE_GLOBS = (".env.example", ".env.sample", ".env.template", "*.pub")


class InvalidReference(ValueError):
    """An image name or tag that Docker would refuse; the message says which part and why."""


@dataclass(frozen=True)
class ImageName:
    """Where a flow's image lives: ``[registry/]namespace/<flow>-worker``."""

    repository: str
    tag: str

    @property
    def ref(self) -> str:
        """The mutable reference, e.g. ``localhost:5000/proj/rpa1-worker:latest``."""
        return f"{self.repository}:{self.tag}"

    def with_tag(self, tag: str) -> str:
        """The same repository with another tag."""
        return f"{self.repository}:{tag}"


@dataclass(frozen=True)
class ContentDigest:
    """The content hash of one image's inputs, and what went into it (for explaining)."""

    sha256: str
    files: int
    secret_files: tuple[str, ...]

    @property
    def tag(self) -> str:
        """The immutable tag: ``c-`` and the first 12 hex digits."""
        return CONTENT_TAG_PREFIX + self.sha256[:CONTENT_TAG_LENGTH]


def image_name(flow: str, *, registry: str, namespace: str, tag: str) -> ImageName:
    """The image name of ``flow``; raises ``InvalidReference`` for a name Docker refuses."""
    validate_tag(tag)
    remote = "/".join(part for part in (namespace.strip("/"), f"{flow}{IMAGE_SUFFIX}") if part)
    registry = registry.strip().rstrip("/")
    repository = f"{registry}/{remote}" if registry else remote
    validate_repository(repository, flow=flow)
    return ImageName(repository, tag)


def validate_tag(tag: str) -> None:
    """Docker's tag grammar: a word character, then up to 127 of ``[\\w.-]``."""
    if not TAG_RE.match(tag):
        raise InvalidReference(
            f"tag '{tag}' is not a valid Docker tag: use up to 128 letters, digits, "
            "'_', '.' or '-', not starting with '.' or '-'")


def validate_repository(repository: str, *, flow: str | None = None) -> None:
    """Docker's repository grammar: an optional registry host, then lowercase path parts."""
    domain, _, remote = split_domain(repository)
    if domain and not DOMAIN_RE.match(domain):
        raise InvalidReference(f"registry '{domain}' is not a valid registry host[:port]")
    if len(repository) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"image name '{repository}' is longer than 255 characters")
    if not PATH_RE.match(remote):
        what = f"flow folder '{flow}' gives image name" if flow else "image name"
        raise InvalidReference(
            f"{what} '{repository}', which Docker refuses: names must be lowercase letters "
            "and digits, separated by '.', '_', '__' or '-', with no spaces")


def split_domain(repository: str) -> tuple[str, str, str]:
    """Split ``host[:port]/path`` as Docker does: the first part is a host if it looks like one."""
    first, sep, rest = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, "/", rest
    return "", "", repository


def content_digest(context: Path, build_args: Mapping[str, str], *, dockerfile: str = "Dockerfile",
                   base_image_id: str | None = None,
                   exclude: Sequence[str] = ()) -> ContentDigest:
    """Hash everything that goes into the image built from ``context`` (``exclude``: more
    patterns left out before the .dockerignore's, as the build leaves them out too)."""
    entries = context_entries(context, [*exclude, *load_patterns(context)], dockerfile)
    digest = hashlib.sha256()
    digest.update(f"{HASH_VERSION}\ndockerfile {dockerfile}\n".encode())
    for entry in entries:
        digest.update(_entry_line(context, entry))
    for key in sorted(build_args):
        digest.update(f"arg {key}={build_args[key]}\n".encode())
    digest.update(f"base {base_image_id or '-'}\n".encode())
    secrets = tuple(e.path for e in entries if e.kind == "file" and looks_secret(e.path))
    return ContentDigest(digest.hexdigest(), len(entries), secrets)


def looks_secret(path: str) -> bool:
    """True for file names that usually hold credentials (``.env``, keys, ``.netrc``, ...)."""
    name = path.rsplit("/", 1)[-1]
    if any(fnmatchcase(name, glob) for glob in SECRET_SAFE_GLOBS):
        return False
    return any(fnmatchcase(name, glob) for glob in SECRET_GLOBS)


def _entry_line(context: Path, entry: Entry) -> bytes:
    full = context / entry.path
    if entry.kind == "file":
        detail = _file_sha256(full)
    elif entry.kind == "link":
        detail = str(full.readlink())
    else:
        detail = ""
    return f"{entry.kind} {entry.mode:04o} {entry.path}\0{detail}\n".encode()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
