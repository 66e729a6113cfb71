"""The __main__ block serves two independent flows: neither is the entry."""

from prefect import flow, serve


@flow
def hourly_sync() -> None:
    pass


@flow
def nightly_export(path: str = "/tmp/export") -> str:
    return path


if __name__ == "__main__":
    serve(hourly_sync.to_deployment(name="hourly"), nightly_export.to_deployment(name="nightly"))
