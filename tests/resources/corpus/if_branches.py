"""Flows defined in if/else branches (a feature switch), and a subflow both call."""

import os

from prefect import flow


@flow
def refresh_cache(region: str = "eu") -> str:
    return region


if os.environ.get("FAST_MODE"):

    @flow(name="pipeline")
    def pipeline(region: str = "eu") -> str:
        return refresh_cache(region)

else:

    @flow(name="pipeline")
    def pipeline(region: str = "eu") -> str:
        value = refresh_cache(region)
        return value.upper()
