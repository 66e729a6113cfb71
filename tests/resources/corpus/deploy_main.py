"""The __main__ block deploys one of two flows (prefect's flow.deploy())."""

import sys

from prefect import flow


@flow
def warm_up() -> None:
    pass


@flow(name="sales-sync")
def sales_sync(full: bool = False) -> bool:
    return full


if __name__ == "__main__":
    if "--deploy" in sys.argv:
        sales_sync.deploy(name="sales-sync", work_pool_name="process-pool")
    else:
        sales_sync()
