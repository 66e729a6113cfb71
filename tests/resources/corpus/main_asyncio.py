"""An async flow run with asyncio.run(main()), beside a backfill flow nothing calls."""

import asyncio

from prefect import flow, get_run_logger


@flow
async def backfill(days: int = 7) -> None:
    get_run_logger().info("backfilling %d days", days)


@flow
async def main(limit: int = 10) -> int:
    await asyncio.sleep(0)
    return limit


if __name__ == "__main__":
    asyncio.run(main())
