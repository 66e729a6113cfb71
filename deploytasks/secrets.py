"""The secrets of this process, and the one rule for showing one: as ``MASK``.

What is secret:

- every value registered here: the settings' API key, auth string and registry
  password (``config.py``), the password or token inside a configured URL, the
  values a flow's ``.env`` gives its deployments (``deploy/resolve.py``), the
  password of a registry login (``images/transfer.py``);
- the user info of any URL (``https://user:token@host``), registered or not;
- the values of a deployment's environment variables (``job_variables.env``),
  which may hold secrets whatever their names.

Text is masked by ``redact`` (registered values and URL user info); a structured
value known to be secret by ``mask`` (an empty one shows as itself, so that a
reader can still tell it is unset), and an environment mapping by ``mask_env``
(its names stay, its values do not). Everything the tool prints, returns as
JSON, annotates, summarises or writes under ``build/`` passes through here: the
console calls ``redact`` on all it prints, the plan masks environment values in
its documents, the spec writer redacts the files it writes.

Plain Python without rich or prefect: core modules register secrets and the
console masks them, so the registry is the one place both may import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import unquote, urlsplit

MASK = "********"
MIN_LENGTH = 4  # shorter values would mask ordinary words and numbers everywhere
# The user info of any URL (``https://user:token@host``): a scheme, then everything up
# to the last ``@`` before the first ``/``, ``?``, ``#`` or space (RFC 3986 authority).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]+@")
_registry: set[str] = set()

T = TypeVar("T")


def register_secret(value: str | None) -> None:
    """Remember a secret value so that no output of this process ever shows it."""
    if value and len(value) >= MIN_LENGTH:
        _registry.add(value)


def register_url_secret(url: str | None) -> None:
    """Remember the password (or lone token) in a URL's user info, also percent-decoded,
    so that it stays masked where it is printed outside its URL."""
    if not url or "@" not in url:
        return
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return
    token = parts.password if parts.password is not None else parts.username
    for value in (token, unquote(token or "")):
        register_secret(value)


def redact(text: str) -> str:
    """Mask the user info of every URL and every registered secret in ``text``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    for secret in sorted(_registry, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_value(value: T) -> T | str:
    """A setting's value as shown: text redacted, anything else as it is."""
    return redact(value) if isinstance(value, str) else value


def mask(value: T) -> T | str:
    """A secret value as shown: ``MASK`` when it has one; an empty one as itself."""
    return MASK if value else value


def mask_env(variables: Mapping[str, object]) -> dict[str, str]:
    """Environment variables as shown: every name, no value."""
    return {name: MASK for name in variables}


def is_env(path: str) -> bool:
    """Whether a (dotted) field path names environment variables, whose values are secret."""
    return path == "env" or path.endswith(".env")
