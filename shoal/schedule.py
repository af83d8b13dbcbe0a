"""Schedules of scheduled actions, parsed and evaluated without side effects:

- ``cron(m h dom mon dow)``: Unix cron, day of week 0-7 (0 and 7 are Sunday) or SUN-SAT;
- ``cron(m h dom mon dow year)``: the Application Auto Scaling form, day of week 1-7
  (1 is Sunday) or SUN-SAT, ``?`` for "no restriction" and a year field;
- ``at(yyyy-mm-ddThh:mm:ss)``: once;
- ``rate(N minute[s]|hour[s]|day[s])``: every N units from the action's anchor time.

Times are read in an IANA time zone (zoneinfo); every instant in and out is epoch seconds.
When day of month and day of week are both restricted, a day matching either fires, as in
Vixie cron. A wall-clock time skipped by a DST change fires at the same offset after the
change; a time repeated by one fires once (the first).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoal.validation import ValidationError

MAX_EXPRESSION = 256
# How far ahead a cron search looks: leap-day schedules need up to 8 years (2096 -> 2104).
_SEARCH_DAYS = 366 * 9

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_UNIX_DAYS = {d: i for i, d in enumerate(_DAY_NAMES)}
_AWS_DAYS = {d: i + 1 for i, d in enumerate(_DAY_NAMES)}
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_WRAPPED = re.compile(r"(cron|at|rate)\((.*)\)", re.DOTALL)
_AT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name`` ("" is UTC); ValidationError naming ``field`` if unknown."""
    if not name:
        return ZoneInfo("UTC")
    if len(name) > 64 or ".." in name or name.startswith("/"):
        raise ValidationError(field, f"{name[:64]!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(field, f"{name!r} is not an IANA time zone name (e.g. Europe/Paris)") from exc


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # Python's weekday(): Monday 0 .. Sunday 6
    years: frozenset[int] | None
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months or (self.years is not None and d.year not in self.years):
            return False
        dom = d.day in self.days
        dow = d.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. ``kind`` is cron, at or rate."""

    kind: str
    expression: str
    tz: ZoneInfo
    cron: Cron | None = None
    at: float = 0.0
    period: float = 0.0

    def next_after(self, after: float, anchor: float = 0.0) -> float | None:
        """The first fire time strictly after ``after``, or None if there is none (an ``at``
        in the past, a cron whose days never come). ``anchor`` is when a rate schedule
        started counting (its fires are anchor + k * period, k >= 1)."""
        if self.kind == "at":
            return self.at if self.at > after else None
        if self.kind == "rate":
            if after < anchor:
                return anchor + self.period
            k = math.floor((after - anchor) / self.period) + 1
            return anchor + k * self.period
        assert self.cron is not None
        return _next_cron(self.cron, self.tz, after)

    def due(self, last_checked: float, now: float, anchor: float = 0.0) -> float | None:
        """The fire time in (last_checked, now] if there is one: the action should run."""
        nxt = self.next_after(last_checked, anchor)
        return nxt if nxt is not None and nxt <= now else None


def parse(expression: str, timezone: str = "", field: str = "schedule") -> Schedule:
    """Parses and fully validates; ValidationError names ``field`` (or ``timezone``)."""
    tz = zone(timezone)
    if not expression:
        raise ValidationError(field, "required: cron(...), at(yyyy-mm-ddThh:mm:ss) or rate(N minutes)")
    if len(expression) > MAX_EXPRESSION:
        raise ValidationError(field, f"at most {MAX_EXPRESSION} characters")
    m = _WRAPPED.fullmatch(expression.strip())
    if not m:
        raise ValidationError(field, f"{expression!r} is not cron(...), at(yyyy-mm-ddThh:mm:ss) or rate(N minutes)")
    kind, body = m.group(1), m.group(2).strip()
    if kind == "at":
        return Schedule("at", expression, tz, at=_parse_at(body, tz, field))
    if kind == "rate":
        return Schedule("rate", expression, tz, period=_parse_rate(body, field))
    return Schedule("cron", expression, tz, cron=_parse_cron(body, field))


def _parse_at(body: str, tz: ZoneInfo, field: str) -> float:
    m = _AT.fullmatch(body)
    if not m:
        raise ValidationError(field, f"at({body}): expected at(yyyy-mm-ddThh:mm:ss)")
    try:
        local = datetime(*(int(g) for g in m.groups()), tzinfo=tz)  # type: ignore[misc]
    except ValueError as exc:
        raise ValidationError(field, f"at({body}): {exc}") from exc
    return local.timestamp()


def _parse_rate(body: str, field: str) -> float:
    parts = body.split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in _RATE_UNITS:
        raise ValidationError(field, f"rate({body}): expected rate(N minutes|hours|days)")
    n = int(parts[0])
    if n < 1 or n > 10_000:
        raise ValidationError(field, f"rate({body}): N must be between 1 and 10000")
    return float(n * _RATE_UNITS[parts[1]])


def _parse_cron(body: str, field: str) -> Cron:
    parts = body.split()
    if len(parts) not in (5, 6):
        raise ValidationError(field, f"cron({body}): expected 5 fields (m h dom mon dow) or 6 (... year)")
    aws = len(parts) == 6
    minute, hour, dom, month, dow = parts[:5]

    def spec(text: str, name: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
        try:
            return _field(text, lo, hi, names or {})
        except ValueError as exc:
            raise ValidationError(field, f"cron({body}): {name} field {text!r}: {exc}") from exc

    days_restricted = dom not in ("*", "?")
    weekdays_restricted = dow not in ("*", "?")
    if aws:
        if dom != "?" and dow != "?" and days_restricted and weekdays_restricted:
            raise ValidationError(field, f"cron({body}): one of day-of-month and day-of-week must be '?'")
        raw_dow = spec(dow, "day-of-week", 1, 7, _AWS_DAYS)
        weekdays = frozenset((d - 2) % 7 for d in raw_dow)  # 1 = Sunday -> 6, 2 = Monday -> 0
        years: frozenset[int] | None = None if parts[5] in ("*", "?") else spec(parts[5], "year", 1970, 2199)
    else:
        raw_dow = spec(dow, "day-of-week", 0, 7, _UNIX_DAYS)
        weekdays = frozenset((d - 1) % 7 for d in raw_dow)  # 0/7 = Sunday -> 6, 1 = Monday -> 0
        years = None
    return Cron(
        minutes=spec(minute, "minute", 0, 59),
        hours=spec(hour, "hour", 0, 23),
        days=spec(dom, "day-of-month", 1, 31),
        months=spec(month, "month", 1, 12, _MONTHS),
        weekdays=weekdays,
        years=years,
        days_restricted=days_restricted,
        weekdays_restricted=weekdays_restricted,
    )


def _value(text: str, lo: int, hi: int, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number" + (f" or one of {', '.join(names)}" if names else ""))
    n = int(text)
    if not lo <= n <= hi:
        raise ValueError(f"{n} is outside {lo}-{hi}")
    return n


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError("empty list item")
        rng, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"step {step_text!r} must be a positive number")
            step = int(step_text)
        if rng in ("*", "?"):
            start, end = lo, hi
        elif "-" in rng:
            a, _, b = rng.partition("-")
            start, end = _value(a, lo, hi, names), _value(b, lo, hi, names)
            if start > end:
                raise ValueError(f"range {rng!r} runs backwards")
        else:
            start = _value(rng, lo, hi, names)
            end = hi if step_text else start
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _next_cron(c: Cron, tz: ZoneInfo, after: float) -> float | None:
    start = datetime.fromtimestamp(after, UTC).astimezone(tz)
    hours = sorted(c.hours)
    minutes = sorted(c.minutes)
    day = start.date()
    for _ in range(_SEARCH_DAYS):
        if c.day_matches(day):
            for h in hours:
                for mi in minutes:
                    # fold=0: a repeated wall-clock time fires at its first occurrence only.
                    t = datetime(day.year, day.month, day.day, h, mi, tzinfo=tz).timestamp()
                    if t > after:
                        return t
        day += timedelta(days=1)
    return None
