"""``deploy.check``: read an environment's deployments back as the Prefect UI shows them.

Each expected deployment is compared with what the API the UI uses returns
(``deploy/check.py``); the UI itself must answer; with ``browser`` headless
Chromium renders the pages and says which names it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deploytasks.deploy import session
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.readback import DeploymentCheck, check_deployment
from deploytasks.deploy.resolve import Resolution, resolve
from deploytasks.service.selection import Selection, image_lookup

if TYPE_CHECKING:
    from deploytasks.deploy.browser import BrowserResult


@dataclass
class CheckResult:
    """Every expected deployment as found, whether the UI answers, and what a browser saw."""

    resolution: Resolution
    checks: list[DeploymentCheck]
    ui_problem: str | None = None
    browser: BrowserResult | None = None

    @property
    def failed(self) -> bool:
        """A deployment missing or different, the UI not answering, a name not rendered,
        or a flow left out."""
        missing = self.browser is not None and bool(self.browser.missing)
        return any(not c.ok for c in self.checks) or bool(self.ui_problem) or missing \
            or bool(self.resolution.skipped)


def check(selection: Selection, *, browser: bool = False) -> CheckResult:
    """Read the selection's deployments back; with ``browser``, render them in Chromium."""
    resolution = resolve(session.load_config(selection.env), selection.kinds, selection.flows,
                         image_for=image_lookup(selection.kinds),
                         changed_since=selection.changed_since)
    result = session.run(_check(resolution))
    if browser:
        from deploytasks.deploy.browser import check_in_browser

        config = resolution.config
        result.browser = check_in_browser(
            session.ui_url(session.api_url(config), config.settings.prefect.ui_url),
            {c.name: c.link for c in result.checks if c.link}, config.root)
    return result


async def _check(resolution: Resolution) -> CheckResult:
    config = resolution.config
    async with session.gateway(config) as gateway:
        owner = ownership(config)
        remote = await gateway.read_deployments(owner, [s.name for s in resolution.specs])
        pools = await gateway.read_work_pools()
        used = {s.work_pool for s in resolution.specs if s.work_pool in pools}
        polled = {name for name in used if await gateway.pool_has_workers(name)}
        ui = session.ui_url(gateway.api_url, config.settings.prefect.ui_url)
        ui_problem = await gateway.ui_problem(ui)
        records = await gateway.read_records([*owner.tags, f"env:{config.env.short}"])
    by_key = {d.key: d for d in remote}
    types = {name: pool.type for name, pool in pools.items()}
    wanted = {pool.name: pool.type for pool in config.settings.work_pools.values()}
    checks = [check_deployment(spec, found, owner, ui=ui, pools=types,
                               polled_pools=polled, pool_type=wanted.get(spec.work_pool),
                               record=records.get(found.id) if found else None)
              for spec in resolution.specs for found in [by_key.get(spec.key)]]
    return CheckResult(resolution, checks, ui_problem)
