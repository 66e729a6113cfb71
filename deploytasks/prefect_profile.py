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


def profile_layer() -> Layer | None:
    """The active profile's connection settings, or None when it names no API URL."""
    from prefect.settings import get_current_settings, load_profiles

    path = get_current_settings().profiles_path
    try:
        profiles = load_profiles()
    except (OSError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"cannot read the Prefect profiles: {error}", where=str(path),
                          hint="fix the file (the prefect CLI writes it: prefect profile ls) "
                               "or point PREFECT_PROFILES_PATH at another one") from None
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
