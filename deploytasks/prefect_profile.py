"""The active Prefect profile, as the lowest configuration layer for the API connection.

``prefect cloud login`` (and ``prefect config set``) write the API URL and key
into a profile of the profiles file — ``PREFECT_PROFILES_PATH``, else
``$PREFECT_HOME/profiles.toml`` — and the active profile is ``PREFECT_PROFILE``
or the file's ``active``. When neither the environment nor the configuration
names an API URL, deploytasks connects the way the ``prefect`` CLI would: with
that profile's URL, key, auth string and UI URL. The file is read with
Prefect's own loader (``prefect.settings.load_profiles``), so what the CLI
wrote reads the same here; ``env.show`` names the profile and its file.

Importing Prefect costs about a second, so only commands that talk to the
API (and ``env.show``) read the profile.
"""

from __future__ import annotations

import os
from typing import Any

from deploytasks.errors import ConfigError
from deploytasks.layers import Layer, set_path
from deploytasks.yamlfile import KeyPath

# The profile settings deploytasks takes over, and the setting each one sets.
PROFILE_SETTINGS: dict[str, str] = {
    "PREFECT_API_URL": "prefect.api_url",
    "PREFECT_API_KEY": "prefect.api_key",
    "PREFECT_API_AUTH_STRING": "prefect.auth_string",
    "PREFECT_UI_URL": "prefect.ui_url",
}
PROFILES_HINT = ("fix the file (the prefect CLI writes it: prefect profile ls) or point "
                 "PREFECT_PROFILES_PATH at another one")


def profile_layer() -> Layer | None:
    """The active profile's connection settings, or None when it names no API URL."""
    from prefect.settings import get_current_settings, load_profiles

    path = get_current_settings().profiles_path
    try:
        profiles = load_profiles()
    except (OSError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"cannot read the Prefect profiles: {error}", where=str(path),
                          hint=PROFILES_HINT) from None
    chosen = os.environ.get("PREFECT_PROFILE") or None
    name = chosen or profiles.active_name
    if not name:
        return None
    if name not in profiles.names:
        raise ConfigError(f"no Prefect profile named {name!r} in {path}",
                          where="PREFECT_PROFILE" if chosen else str(path),
                          hint=f"use one of {', '.join(sorted(profiles.names))} "
                               "(prefect profile ls), or set PREFECT_API_URL")
    profile = profiles[name]
    values = {setting.name: value for setting, value in profile.settings.items()}
    return layer_from(name, str(profile.source or path), values)


def unreadable_profiles(error: BaseException) -> ConfigError | None:
    """The clear error for an exception that importing Prefect raised on a broken profiles
    file (Prefect reads it at import and fails with a bare ``TOMLDecodeError``), else None."""
    trace = error.__traceback__
    frames = []
    while trace is not None:
        frames.append(trace.tb_frame.f_code.co_filename)
        trace = trace.tb_next
    if type(error).__name__ != "TOMLDecodeError" or \
            not any("prefect" in f and "settings" in f for f in frames):
        return None
    where = os.environ.get("PREFECT_PROFILES_PATH") or (
        f"{os.environ['PREFECT_HOME']}/profiles.toml" if os.environ.get("PREFECT_HOME")
        else "~/.prefect/profiles.toml")
    return ConfigError(f"cannot read the Prefect profiles: {error}", where=where,
                       hint=PROFILES_HINT)


def layer_from(name: str, source: str, values: dict[str, Any]) -> Layer | None:
    """The layer of one profile's values (None when it names no API URL: nothing to use)."""
    if not values.get("PREFECT_API_URL"):
        return None
    origin = f"profile {name} ({source})"
    data: dict[str, Any] = {}
    sources: dict[KeyPath, str] = {}
    for variable, dotted in PROFILE_SETTINGS.items():
        value = values.get(variable)
        if value not in (None, ""):
            set_path(data, dotted, str(value))
            sources[tuple(dotted.split("."))] = origin
    return Layer(origin, data, scope="profile", sources=sources)
