"""Drift records on the server: one Prefect Variable per deployment (``deploy/records.py``).

The record's shape and meaning live in ``records.py``; this module only reads,
writes and deletes the Variables. The project's records are read in one paged
filter (Prefect's client has no paged Variable filter, hence the raw request
through its own client); a record written meanwhile by another run is replaced.
"""

from __future__ import annotations

import contextlib

from prefect.client.schemas.filters import VariableFilter, VariableFilterTags

from deploytasks.deploy.prefect_api.connection import Connection
from deploytasks.deploy.records import AppliedRecord, parse_record, record_name

PAGE = 200


class RecordVariables(Connection):
    """The gateway's reads and writes of drift records."""

    async def read_record(self, deployment_id: str) -> AppliedRecord | None:
        """One deployment's record, if it has one."""
        name = record_name(deployment_id)
        variable = await self.call("read record", self.client.read_variable_by_name, name)
        return parse_record(name, variable.value) if variable is not None else None

    async def read_records(self, tags: list[str]) -> dict[str, AppliedRecord]:
        """Every record carrying ``tags``, by deployment id, in one paged read."""
        from prefect.client.schemas.objects import Variable

        records: dict[str, AppliedRecord] = {}
        wanted = VariableFilter(tags=VariableFilterTags(all_=tags)).model_dump(mode="json")
        offset = 0
        while True:
            response = await self.call("read records", self.client.request, "POST",
                                       "/variables/filter",
                                       json={"variables": wanted, "limit": PAGE,
                                             "offset": offset})
            page = Variable.model_validate_list(response.json())
            for variable in page:
                record = parse_record(variable.name, variable.value)
                if record is not None:
                    records[record.deployment_id] = record
            offset += len(page)
            if len(page) < PAGE:
                return records

    async def write_record(self, record: AppliedRecord, tags: list[str], *, exists: bool) -> None:
        """Create or replace one deployment's record."""
        from prefect.client.schemas.actions import VariableCreate, VariableUpdate
        from prefect.exceptions import ObjectAlreadyExists

        update = VariableUpdate(name=record.variable_name, value=record.value(), tags=tags)

        async def create_or_update() -> None:
            try:
                await self.client.create_variable(VariableCreate(
                    name=record.variable_name, value=record.value(), tags=tags))
            except ObjectAlreadyExists:  # written meanwhile (another run): replace it
                await self.client.update_variable(update)

        what = f"record what was applied to {record.name}"
        if exists:
            await self.call(what, self.client.update_variable, update)
        else:
            await self.call(what, create_or_update)

    async def delete_record(self, variable_name: str) -> None:
        """Delete one record (a missing one is already what we want)."""
        from prefect.exceptions import ObjectNotFound

        async def delete() -> None:
            with contextlib.suppress(ObjectNotFound):
                await self.client.delete_variable_by_name(variable_name)

        await self.call(f"delete record {variable_name}", delete)
