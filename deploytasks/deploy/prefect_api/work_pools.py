"""Work pools, their workers, and whether the UI answers: what a deploy and a check look at
besides the deployments themselves."""

from __future__ import annotations

from typing import Any

import httpx
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import WorkPool

from deploytasks.deploy.prefect_api.connection import Connection, short


class WorkPools(Connection):
    """The gateway's work pools, workers and UI probe."""

    async def read_work_pools(self) -> dict[str, WorkPool]:
        """Every work pool on the server, by name."""
        pools = await self.call("read work pools", self.client.read_work_pools)
        return {pool.name: pool for pool in pools}

    async def create_work_pool(self, name: str, kind: str, template: dict[str, Any],
                               description: str | None = None) -> None:
        """Create a work pool from a base job template."""
        create = WorkPoolCreate(name=name, type=kind, base_job_template=template,
                                description=description)
        await self.call(f"create work pool {name}", self.client.create_work_pool,
                        work_pool=create)

    async def pool_has_workers(self, pool: str) -> bool:
        """True when at least one worker polled the pool recently."""
        workers = await self.call(f"read workers of {pool}",
                                  self.client.read_workers_for_work_pool, pool)
        return any(w.status == "ONLINE" for w in workers)

    async def ui_problem(self, ui_url: str) -> str | None:
        """None when the UI answers with its page; otherwise what is wrong."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(ui_url + "/")
        except httpx.HTTPError as error:
            return f"the UI at {ui_url} does not answer ({short(error)})"
        if response.status_code != 200 or "<html" not in response.text.lower():
            return (f"the UI at {ui_url} answered HTTP {response.status_code} without its page "
                    "(is the server started with the UI enabled?)")
        return None
