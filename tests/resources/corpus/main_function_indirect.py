"""The __main__ block calls a plain main() that parses arguments and runs the flow."""

import argparse

from prefect import flow


@flow
def reindex(index: str = "all") -> str:
    return index


@flow
def report(month: str = "2024-01") -> str:
    return month


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--month", default="2024-01")
    return parser.parse_args()


def main() -> None:
    args = parse()
    report(args.month)


if __name__ == "__main__":
    main()
