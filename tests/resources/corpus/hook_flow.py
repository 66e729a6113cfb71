"""A flow whose failure hook is another flow of the file."""

from prefect import flow


@flow
def alert(message: str = "failed") -> None:
    print(message)


@flow(on_failure=[alert], retries=1)
def nightly_report(day: str = "today") -> str:
    return day
