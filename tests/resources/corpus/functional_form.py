"""Flows made with flow(...)(function), one calling the other."""

from prefect import flow


def build_report(day: str = "today") -> str:
    return day


def run_daily(day: str = "today") -> str:
    return report(day)


report = flow(name="report")(build_report)
daily = flow(run_daily)
