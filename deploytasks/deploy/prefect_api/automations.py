"""Automations made of a deployment's triggers (``deploy/triggers.py``): read, kept in step,
deleted — only ours, by id.

Ours are the automations carrying this project's tags; they are read in one paged,
tag-filtered read per plan. Prefect's ``delete_resource_owned_automations`` is never
called: it would delete an automation someone made by hand for the deployment too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from deploytasks.deploy.prefect_api.connection import Connection
from deploytasks.deploy.triggers import RemoteAutomation, automation_of, remote_of, sync_of

PAGE = 200


class DeploymentAutomations(Connection):
    """The gateway's automation reads and writes."""

    async def read_automations(self, tags: Sequence[str]) -> dict[str, list[RemoteAutomation]]:
        """Every automation carrying ``tags`` that a deployment owns, by deployment id."""
        from prefect.events.filters import AutomationFilter, AutomationFilterTags

        wanted = AutomationFilter(tags=AutomationFilterTags(all_=list(tags)))
        found: list[Any] = []
        while True:
            page = await self.call("read automations", self.client.read_automations,
                                   automations=wanted, limit=PAGE, offset=len(found))
            found.extend(page)
            if len(page) < PAGE:
                break
        owned: dict[str, list[RemoteAutomation]] = {}
        for automation in found:
            remote = remote_of(automation)
            if remote is not None:
                owned.setdefault(remote.deployment_id, []).append(remote)
        return owned

    async def sync_triggers(self, deployment_id: str, name: str,
                            wanted: Sequence[dict[str, Any]],
                            current: Sequence[RemoteAutomation], tags: Sequence[str]) -> None:
        """Create, replace and delete our automations of one deployment until they are
        ``wanted`` (tagged with ``tags`` and each document's hash)."""
        sync = sync_of(wanted, current)
        for document in sync.create:
            await self.call(f"create automation {document['name']} of {name}",
                            self.client.create_automation,
                            automation_of(document, deployment_id, tags))
        for automation_id, document in sync.update:
            made = automation_of(document, deployment_id, tags)
            # the server's update takes no owner (it keeps the one of the create)
            replacement = type(made).model_validate(made.model_dump(exclude={"owner_resource"}))
            await self.call(f"update automation {document['name']} of {name}",
                            self.client.update_automation, UUID(automation_id), replacement)
        await self.delete_automations(sync.delete, name)

    async def delete_automations(self, ids: Sequence[str], name: str) -> None:
        """Delete automations of ours by id (a deployment's, before it goes)."""
        for automation_id in ids:
            await self.call(f"delete automation of {name}", self.client.delete_automation,
                            UUID(automation_id))
