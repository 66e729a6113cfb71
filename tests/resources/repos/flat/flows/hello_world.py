"""The smallest flow: greet someone."""

from prefect import flow


@flow(log_prints=True)
def hello(name: str = "world") -> str:
    """Say hello."""
    message = f"Hello, {name}!"
    print(message)
    return message


if __name__ == "__main__":
    hello()
