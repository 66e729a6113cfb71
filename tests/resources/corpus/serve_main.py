"""A flow served from the __main__ block, with a maintenance flow nothing calls."""

from prefect import flow


@flow
def cleanup(keep_days: int = 30) -> int:
    return keep_days


@flow(log_prints=True)
def hourly_pipeline(batch: int = 100) -> int:
    return batch


if __name__ == "__main__":
    hourly_pipeline.serve(name="pipeline-local", cron="0 * * * *")
