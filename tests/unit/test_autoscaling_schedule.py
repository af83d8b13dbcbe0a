"""cron/at/rate schedules with time zones (shoal.schedule)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shoal.schedule import parse
from shoal.validation import ValidationError


def ts(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def local(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %a")


def test_cron_weekday_mornings_in_a_time_zone():
    s = parse("cron(0 8 * * 1-5)", "Europe/Paris")
    # Friday 2030-01-04 09:00 Paris -> next is Monday 08:00 Paris.
    nxt = s.next_after(ts("2030-01-04T09:00:00", "Europe/Paris"))
    assert local(nxt, "Europe/Paris") == "2030-01-07 08:00 Mon"
    assert nxt == ts("2030-01-07T07:00:00")  # UTC+1 in winter


def test_cron_follows_dst_in_new_york():
    s = parse("cron(30 9 * * *)", "America/New_York")
    # DST starts on Sunday 2030-03-10: 09:30 is 14:30Z on the 9th (EST), 13:30Z on the 10th (EDT).
    winter = s.next_after(ts("2030-03-09T12:00:00"))
    summer = s.next_after(winter)
    assert winter == ts("2030-03-09T14:30:00")
    assert summer == ts("2030-03-10T13:30:00")
    assert local(summer, "America/New_York") == "2030-03-10 09:30 Sun"


def test_cron_in_the_skipped_hour_fires_once_after_the_change():
    s = parse("cron(30 2 * * *)", "America/New_York")  # 02:30 does not exist on 2030-03-10
    t = s.next_after(ts("2030-03-10T05:00:00"))
    assert local(t, "America/New_York") == "2030-03-10 03:30 Sun"
    assert local(s.next_after(t), "America/New_York") == "2030-03-11 02:30 Mon"


def test_cron_steps_lists_names_and_aws_six_field_form():
    s = parse("cron(*/15 9-17 * JAN,FEB MON)")
    assert local(s.next_after(ts("2030-01-07T09:50:00")), "UTC") == "2030-01-07 10:00 Mon"
    aws = parse("cron(0 12 ? * 2 2031)")  # AWS: 2 is Monday; only in 2031
    assert local(aws.next_after(ts("2030-06-01T00:00:00")), "UTC") == "2031-01-06 12:00 Mon"
    unix_sunday = parse("cron(0 0 * * 7)")
    assert local(unix_sunday.next_after(ts("2030-01-01T00:00:00")), "UTC").endswith("Sun")


def test_cron_day_of_month_or_day_of_week_when_both_are_given():
    s = parse("cron(0 0 13 * 5)")  # the 13th, or any Friday
    fires = []
    t = ts("2030-09-01T00:00:00")
    for _ in range(4):
        t = s.next_after(t)
        fires.append(local(t, "UTC")[:10])
    assert fires == ["2030-09-06", "2030-09-13", "2030-09-20", "2030-09-27"]


def test_cron_leap_day_and_impossible_dates():
    s = parse("cron(0 0 29 2 *)")
    assert local(s.next_after(ts("2030-03-01T00:00:00")), "UTC").startswith("2032-02-29")
    assert parse("cron(0 0 31 2 *)").next_after(0) is None


def test_at_is_once_in_its_time_zone():
    s = parse("at(2030-05-01T10:00:00)", "Asia/Tokyo")
    assert s.next_after(0) == ts("2030-05-01T01:00:00")
    assert s.next_after(ts("2030-05-01T01:00:00")) is None
    assert s.due(ts("2030-05-01T00:59:59"), ts("2030-05-01T01:00:05")) == ts("2030-05-01T01:00:00")


def test_rate_counts_from_its_anchor():
    s = parse("rate(5 minutes)")
    assert s.next_after(1000, anchor=1000) == 1300
    assert s.next_after(1299, anchor=1000) == 1300
    assert s.next_after(1300, anchor=1000) == 1600
    assert s.next_after(0, anchor=1000) == 1300
    assert parse("rate(1 day)").period == 86400
    assert s.due(1000, 1299, anchor=1000) is None and s.due(1299, 1301, anchor=1000) == 1300


@pytest.mark.parametrize(("expr", "tz", "field", "words"), [
    ("", "", "schedule", "required"),
    ("cron(0 8 * *)", "", "schedule", "5 fields"),
    ("cron(60 8 * * *)", "", "schedule", "minute field"),
    ("cron(0 8 * * MON-SUN-X)", "", "schedule", "day-of-week"),
    ("cron(0 8 5-1 * *)", "", "schedule", "backwards"),
    ("cron(*/0 8 * * *)", "", "schedule", "step"),
    ("cron(0 8 1 * 2 *)", "", "schedule", "'?'"),
    ("at(2030-02-30T10:00:00)", "", "schedule", "day is out of range"),
    ("at(2030-02-01 10:00)", "", "schedule", "yyyy-mm-dd"),
    ("rate(0 minutes)", "", "schedule", "between 1"),
    ("rate(5 weeks)", "", "schedule", "rate(N"),
    ("every 5 minutes", "", "schedule", "is not cron"),
    ("rate(5 minutes)", "Mars/Olympus", "timezone", "IANA"),
    ("rate(5 minutes)", "../../etc/passwd", "timezone", "IANA"),
])
def test_bad_expressions_name_the_field(expr, tz, field, words):
    with pytest.raises(ValidationError) as err:
        parse(expr, tz)
    assert err.value.field == field and words in err.value.message
