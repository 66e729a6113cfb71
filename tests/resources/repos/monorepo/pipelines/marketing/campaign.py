"""A campaign parent flow and its per-channel subflow; the __main__ block runs the parent."""

from prefect import flow


@flow
def send_channel(channel: str, audience: int) -> int:
    return audience if channel != "print" else 0


@flow(name="marketing-campaign")
def campaign(channels: list[str] | None = None, audience: int = 100) -> int:
    return sum(send_channel(channel, audience) for channel in channels or ["email", "sms"])


if __name__ == "__main__":
    campaign()
