"""The period a report covers: whole days in the dealer's time zone, both ends included.

Timestamps in the database are UTC; a manager asking for "1 to 30 November" means Beijing days,
so the bounds are midnights in the dealer's zone. Short periods are shown per day, longer ones
per week (Monday to Sunday, the first and last weeks clipped to the period), so a chart has a
handful of points rather than one or a hundred.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

# Up to this many days a period is shown day by day; beyond, week by week.
DAILY_UP_TO_DAYS = 14
# A longer period is almost certainly a typo (and would draw an unreadable chart).
MAX_DAYS = 366 * 3

Granularity = Literal["day", "week"]


class PeriodError(ValueError):
    """A period that cannot be reported on; the message says why, for the operator."""


@dataclass(frozen=True)
class Period:
    """Whole days ``since`` .. ``until`` (both included) in ``zone``."""

    since: date
    until: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise PeriodError(f"--since {self.since} is after --until {self.until}")
        if self.days > MAX_DAYS:
            raise PeriodError(f"the period has {self.days} days; at most {MAX_DAYS} are reported")

    @classmethod
    def last_days(cls, today: date, days: int, zone: ZoneInfo) -> Period:
        """The ``days`` days ending with ``today`` (``/report 7d``: today and the six before)."""
        return cls(today - timedelta(days=days - 1), today, zone)

    @property
    def start(self) -> datetime:
        """The first instant of the period (aware, in the dealer's zone)."""
        return datetime.combine(self.since, time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.until + timedelta(days=1), time(), tzinfo=self.zone)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def granularity(self) -> Granularity:
        return "day" if self.days <= DAILY_UP_TO_DAYS else "week"

    def buckets(self) -> list[date]:
        """The first day of each day or week of the period, in order."""
        if self.granularity == "day":
            return [self.since + timedelta(days=n) for n in range(self.days)]
        starts = [self.since]
        monday = self.since + timedelta(days=7 - self.since.weekday())
        while monday <= self.until:
            starts.append(monday)
            monday += timedelta(days=7)
        return starts

    def bucket_of(self, moment: datetime) -> date:
        """The bucket (its first day) an instant of the period falls in."""
        day = moment.astimezone(self.zone).date()
        if self.granularity == "day":
            return day
        return max(self.since, day - timedelta(days=day.weekday()))

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    @property
    def label(self) -> str:
        """``2026-11-01 – 2026-11-30 (Asia/Shanghai)``, for titles and captions."""
        if self.since == self.until:
            return f"{self.since.isoformat()} ({self.zone.key})"
        return f"{self.since.isoformat()} – {self.until.isoformat()} ({self.zone.key})"


def parse_period(since: str, until: str, zone: ZoneInfo) -> Period:
    """The period from two ISO dates (``2026-11-01``) as typed on the command line."""
    return Period(_date(since, "--since"), _date(until, "--until"), zone)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{option} {text!r} is not a date like 2026-11-30") from None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between the closest ranks (the
    spreadsheet's PERCENTILE.INC, numpy's default); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
