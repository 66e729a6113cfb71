"""Rules about a deployment's schedules: a timezone Python knows (IANA names), and a cron,
interval or rrule value Prefect's own schedule types accept."""

from __future__ import annotations

import zoneinfo

from deploytasks.deploy.rules.context import SpecContext
from deploytasks.deploy.specs import Schedule
from deploytasks.findings import Finding


def schedule_rules(context: SpecContext) -> list[Finding]:
    """Every schedule's problems, in order (where: the schedules setting's line; a list is
    set whole by one layer)."""
    where = context.where("schedules")
    return [finding for schedule in context.spec.schedules
            for finding in schedule_problems(context.spec.name, schedule, where)]


def schedule_problems(name: str, schedule: Schedule,
                      where: tuple[str | None, int | None]) -> list[Finding]:
    """An unknown timezone (then nothing more is checked), else a value Prefect refuses."""
    return unknown_timezone(name, schedule, where) or invalid_schedule(name, schedule, where)


def unknown_timezone(name: str, schedule: Schedule,
                     where: tuple[str | None, int | None]) -> list[Finding]:
    """A timezone that is not an IANA name."""
    if not schedule.timezone:
        return []
    try:
        zoneinfo.ZoneInfo(schedule.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [Finding.problem(name, "schedules.timezone",
                                f"unknown timezone '{schedule.timezone}'",
                                "use an IANA name such as Europe/Berlin or UTC", where)]
    return []


def invalid_schedule(name: str, schedule: Schedule,
                     where: tuple[str | None, int | None]) -> list[Finding]:
    """A cron, interval or rrule value Prefect's schedule types refuse."""
    from deploytasks.deploy.prefect_api import to_prefect_schedule

    try:
        to_prefect_schedule(schedule)
    except ValueError as error:
        reason = _reason(error)
        detail = "" if str(schedule.value) in reason else f": {reason}"  # no value said twice
        return [Finding.problem(name, f"schedules.{schedule.kind}",
                                f"'{schedule.value}' is not a valid {schedule.kind}{detail}",
                                "fix the schedule (cron: five fields, e.g. '0 6 * * 1-5')",
                                where)]
    return []


def _reason(error: ValueError) -> str:
    """Prefect's own words: pydantic's first message (its printed form ends in a link to
    pydantic's docs, not the reason), else the error's first line."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError) and error.errors():
        return str(error.errors()[0]["msg"]).removeprefix("Value error, ")
    return str(error).splitlines()[0] if str(error) else "invalid"
