"""An async parent that fans out to a subflow with asyncio.gather."""

import asyncio

from prefect import flow


@flow
async def score(shard: int) -> int:
    return shard * 2


@flow
async def score_all(shards: int = 4) -> int:
    results = await asyncio.gather(*[score(shard) for shard in range(shards)])
    return sum(results)
