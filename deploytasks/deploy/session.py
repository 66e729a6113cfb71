"""What every deploy command starts from: the configuration and a way to the server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from deploytasks.config import ConfigurationManager, ResolvedConfig
from deploytasks.deploy.prefect_api import PrefectGateway
from deploytasks.env.local_server import LocalServer
from deploytasks.errors import ServiceUnavailable

T = TypeVar("T")


def load_config(env: str | None, registry: str | None = None) -> ResolvedConfig:
    """The configuration of ``env``, with ``--registry`` as the highest layer."""
    overrides = {"docker.registry": registry} if registry else {}
    return ConfigurationManager().load(env, overrides)


def api_url(config: ResolvedConfig) -> str:
    """``PREFECT_API_URL`` (or the configured URL), else the embedded local server."""
    if config.settings.prefect.api_url:
        return config.settings.prefect.api_url.rstrip("/")
    state = LocalServer.for_repo(config.root).state()
    if state is None:
        raise ServiceUnavailable(
            "no Prefect API: PREFECT_API_URL is not set and the local server is not running",
            hint="start it with 'invoke env.up' (make server-up) or set PREFECT_API_URL")
    return state.api_url


def gateway(config: ResolvedConfig) -> PrefectGateway:
    """An (unopened) gateway to the configuration's Prefect API."""
    prefect = config.settings.prefect
    key = prefect.api_key.get_secret_value() if prefect.api_key else None
    return PrefectGateway(api_url(config), key, prefect.timeout, prefect.retries)


def ui_url(api: str) -> str:
    """The UI's address for an API address (the UI serves beside ``/api``)."""
    return api.removesuffix("/api")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (each command opens one event loop)."""
    return asyncio.run(coroutine)
