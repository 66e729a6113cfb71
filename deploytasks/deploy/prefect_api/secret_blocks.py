"""Secret blocks of the project and the Variables that say they are ours
(``deploy/secret_blocks.py`` holds their names and meaning).

Values are read only to be compared by digest here; they are sent only in the body of a
block create or update, and never appear in a message (the console also masks every
value read from ``.env``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from deploytasks.deploy.prefect_api.connection import Connection
from deploytasks.deploy.secret_blocks import RECORD_PREFIX, SecretValue, digest, record_name

PAGE = 200
SECRET = "secret"  # the Secret block type's slug


class SecretBlocks(Connection):
    """The gateway's reads and writes of Secret blocks and their ownership records."""

    async def read_secret_digests(self, names: list[str]) -> dict[str, str | None]:
        """The digest of each named Secret block's value (absent: no such block)."""
        from prefect.exceptions import ObjectNotFound

        async def read(name: str) -> Any:
            try:
                return await self.client.read_block_document_by_name(
                    name, SECRET, include_secrets=True)
            except ObjectNotFound:
                return None

        found: dict[str, str | None] = {}
        for name in names:
            document = await self.call(f"read secret block {name}", read, name)
            if document is None:
                continue
            value = (document.data or {}).get("value")
            found[name] = digest(_text(value)) if value is not None else None
        return found

    async def read_secret_records(self, tags: list[str]) -> dict[str, str | None]:
        """The Secret blocks whose records carry ``tags`` (this project's), each with the
        environment (short name) its record names."""
        from prefect.client.schemas.filters import (
            VariableFilter,
            VariableFilterName,
            VariableFilterTags,
        )
        from prefect.client.schemas.objects import Variable

        wanted = VariableFilter(tags=VariableFilterTags(all_=tags),
                                name=VariableFilterName(like_=RECORD_PREFIX))
        owned: dict[str, str | None] = {}
        offset = 0
        while True:
            response = await self.call("read secret records", self.client.request, "POST",
                                       "/variables/filter",
                                       json={"variables": wanted.model_dump(mode="json"),
                                             "limit": PAGE, "offset": offset})
            page = Variable.model_validate_list(response.json())
            owned.update({v.name.removeprefix(RECORD_PREFIX): _env_of(v.tags) for v in page
                          if v.name.startswith(RECORD_PREFIX)})
            offset += len(page)
            if len(page) < PAGE:
                return owned

    async def write_secret(self, secret: SecretValue, tags: list[str], *, exists: bool) -> None:
        """Create the block (and its record), or give an existing one the new value."""
        from prefect.client.schemas.actions import (
            BlockDocumentCreate,
            BlockDocumentUpdate,
            VariableCreate,
        )

        what = f"write secret block {secret.block} ({secret.key})"
        if exists:
            document = await self.call(what, self.client.read_block_document_by_name,
                                       secret.block, SECRET, include_secrets=False)
            await self.call(what, self.client.update_block_document, document.id,
                            BlockDocumentUpdate(data={"value": secret.value}))
            return
        block_type = await self.call(what, self.client.read_block_type_by_slug, SECRET)
        schema = await self.call(what, self.client.get_most_recent_block_schema_for_block_type,
                                 block_type.id)
        assert schema is not None, "the server registers the Secret block type at start"
        await self.call(what, self.client.create_block_document, BlockDocumentCreate(
            name=secret.block, data={"value": secret.value}, block_type_id=block_type.id,
            block_schema_id=schema.id))
        await self.call(what, self.client.create_variable, VariableCreate(
            name=record_name(secret.block), value={"key": secret.key}, tags=tags))

    async def delete_secret(self, block: str) -> None:
        """Delete one of our Secret blocks and its record (missing ones are fine)."""
        from prefect.exceptions import ObjectNotFound

        async def delete() -> None:
            with contextlib.suppress(ObjectNotFound):
                document = await self.client.read_block_document_by_name(
                    block, SECRET, include_secrets=False)
                await self.client.delete_block_document(document.id)
            with contextlib.suppress(ObjectNotFound):
                await self.client.delete_variable_by_name(record_name(block))

        await self.call(f"delete secret block {block}", delete)


def _text(value: Any) -> str:
    """A Secret block's value as stored: a string (Prefect's SecretStr is sent as text)."""
    return value if isinstance(value, str) else str(value)


def _env_of(tags: list[str]) -> str | None:
    return next((tag.removeprefix("env:") for tag in tags if tag.startswith("env:")), None)
