"""Hooks are plain functions that start a notification flow."""

from prefect import flow


@flow(name="notify-team")
def notify(text: str) -> None:
    print(text)


def on_failure(flow_, flow_run, state) -> None:
    notify(f"{flow_run.name} failed: {state.message}")


def on_completion(flow_, flow_run, state) -> None:
    notify(f"{flow_run.name} done")


@flow(on_failure=[on_failure], on_completion=[on_completion])
def sync_accounts(batch: int = 500) -> int:
    return batch
