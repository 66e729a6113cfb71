"""A hook registered with @parent.on_completion that is itself a flow."""

from prefect import flow


@flow
def ingest(path: str = "data.csv") -> int:
    return len(path)


@ingest.on_completion
@flow
def archive(flow_, flow_run, state) -> None:
    print("archived", flow_run.name)
