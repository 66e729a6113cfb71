"""How schedules compare and sync: items, the anchor projection, slugs as identity."""

from __future__ import annotations

from deploytasks.deploy.plan import RemoteSchedule
from deploytasks.deploy.prefect_api.schedules import _sync_plan
from deploytasks.deploy.schedule_items import item_of, project
from deploytasks.deploy.specs import Schedule

ANCHOR = "2026-01-01T00:00:00+00:00"
CREATED = "2026-12-02T03:04:05+00:00"  # what the server picks when no anchor is given


def test_a_schedule_without_extras_keeps_the_item_it_always_had() -> None:
    plain = Schedule("cron", "0 6 * * *", "UTC", True)
    assert plain.compared() == ("cron", "0 6 * * *", "UTC")  # older drift records still match
    assert Schedule("cron", "0 6 * * *", "UTC", True, day_or=False).compared() != \
        plain.compared()
    assert len(Schedule("interval", 60.0, "UTC", True, parameters={"a": 1}).compared()) == 4


def test_the_servers_anchor_counts_only_where_the_configuration_gives_one() -> None:
    loose = Schedule("interval", 60.0, "UTC", True)
    fixed = Schedule("interval", 120.0, "UTC", True, anchor_date=ANCHOR)
    server = [item_of("interval", "60.0", "UTC", {"anchor_date": CREATED}),
              item_of("interval", "120.0", "UTC", {"anchor_date": CREATED})]
    projected = project(server, [loose.compared(), fixed.compared()])
    assert loose.compared() in projected  # its anchor, never configured, is not compared
    assert fixed.compared() not in projected  # its configured anchor differs: a change
    assert project([fixed.compared()], [fixed.compared()]) == [fixed.compared()]


def remote(schedule: Schedule, schedule_id: str, *, active: bool = True,
           anchor: str | None = None) -> RemoteSchedule:
    item = schedule.compared()
    if anchor:
        item = item_of(item[0], item[1], item[2], {"anchor_date": anchor})
    return RemoteSchedule(schedule_id, item, active, schedule.slug)


def test_a_slug_is_updated_in_place_and_its_pause_kept() -> None:
    before = Schedule("cron", "0 6 * * *", "UTC", True, slug="morning")
    after = Schedule("cron", "0 7 * * *", "UTC", True, slug="morning", parameters={"a": 1})
    plan = _sync_plan((remote(before, "s1", active=False),), (after,))
    assert plan.updates == [("s1", after)] and plan.deletes == [] and plan.creates == ()


def test_without_a_slug_a_change_replaces_the_schedule() -> None:
    before = Schedule("cron", "0 6 * * *", "UTC", True)
    after = Schedule("cron", "0 7 * * *", "UTC", True)
    plan = _sync_plan((remote(before, "s1"),), (after,))
    assert plan.updates == [] and plan.deletes == ["s1"] and plan.creates == (after,)


def test_matching_schedules_are_left_alone_and_unwanted_ones_removed() -> None:
    hourly = Schedule("interval", 3600.0, "UTC", True)
    slugged = Schedule("rrule", "FREQ=DAILY", "UTC", True, slug="daily")
    gone = Schedule("cron", "0 0 * * 0", "UTC", True, slug="weekly")
    plan = _sync_plan((remote(hourly, "s1", anchor=CREATED), remote(slugged, "s2"),
                       remote(gone, "s3")), (hourly, slugged))
    assert plan.updates == [] and plan.deletes == ["s3"] and plan.creates == ()


def test_an_item_read_back_and_written_again_is_the_same_item() -> None:
    from deploytasks.deploy.schedule_items import without_anchor

    cron = Schedule("cron", "0 6 * * *", "UTC", True, parameters={"x": 2.0, "on": True},
                    day_or=False)
    assert without_anchor(cron.compared()) == cron.compared()
    assert '"on":true' in cron.compared()[3] and '"x":2' in cron.compared()[3]
