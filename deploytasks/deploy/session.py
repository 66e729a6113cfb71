"""What every deploy command starts from: the configuration and a way to the server."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from deploytasks.config import ConfigurationManager, ResolvedConfig
from deploytasks.deploy import interrupt
from deploytasks.deploy.prefect_api import PrefectGateway
from deploytasks.deploy.prefect_api.throttle import Throttle
from deploytasks.env.local_server import LocalServer
from deploytasks.errors import ServiceUnavailable

T = TypeVar("T")


def load_config(env: str | None, registry: str | None = None) -> ResolvedConfig:
    """The configuration of ``env``, with ``--registry`` as the highest layer (and the
    active Prefect profile as the lowest, for the API connection)."""
    overrides = {"docker.registry": registry} if registry else {}
    return ConfigurationManager().load(env, overrides, profile=True)


def api_url(config: ResolvedConfig) -> str:
    """``PREFECT_API_URL``, the configured URL or the active Prefect profile's; else the
    embedded local server."""
    if config.settings.prefect.api_url:
        return config.settings.prefect.api_url.rstrip("/")
    state = LocalServer.for_repo(config.root).state()
    if state is None:
        raise ServiceUnavailable(
            "no Prefect API: PREFECT_API_URL is not set (nor in the configuration or the "
            "active Prefect profile) and the local server is not running",
            hint="start it with 'invoke env.up' (make server-up) or set PREFECT_API_URL")
    return state.api_url


def gateway(config: ResolvedConfig) -> PrefectGateway:
    """An (unopened) gateway to the configuration's Prefect API."""
    prefect = config.settings.prefect
    key = prefect.api_key.get_secret_value() if prefect.api_key else None
    auth = prefect.auth_string.get_secret_value() if prefect.auth_string else None
    throttle = Throttle(cap=prefect.max_retry_after, budget=prefect.wait_budget)
    return PrefectGateway(api_url(config), key, prefect.timeout, prefect.retries,
                          auth_string=auth, throttle=throttle)


def ui_url(api: str, configured: str | None = None) -> str:
    """Where the UI shows what ``api`` holds: ``PREFECT_UI_URL`` when set, else derived
    from the API URL by Prefect's own rule (``…/api`` → ``…``; Prefect Cloud's
    ``https://api.prefect.cloud/api/accounts/A/workspaces/W`` →
    ``https://app.prefect.cloud/account/A/workspace/W``)."""
    from types import SimpleNamespace

    from prefect.settings import get_current_settings
    from prefect.settings.models._defaults import default_ui_url

    shape = SimpleNamespace(ui_url=configured, api=SimpleNamespace(url=api),
                            cloud=get_current_settings().cloud)
    derived = default_ui_url(shape)  # type: ignore[arg-type]
    return (derived or api.removesuffix("/api")).rstrip("/")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (each command opens one event loop); Ctrl-C
    ends it in ``KeyboardInterrupt`` (``deploy/interrupt.py``)."""
    return interrupt.run(coroutine)
