"""The showroom's opening hours as instants: is it open, when it opens next, and deadlines that
count only opening time (a card posted at 20:55 with ten minutes to be claimed is due at 09:10
the next opening day, not at 21:05)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from crm_bridge.catalog import dealer
from crm_bridge.dealer_data import WEEKDAYS

# How far ahead to look for the next opening (a long holiday closure is still found).
SEARCH_DAYS = 30


class OpeningHours:
    """The dealer's weekly hours and holidays, read once, in its time zone."""

    def __init__(
        self, hours: dict[str, tuple[time, time]], holidays: frozenset[date], zone: ZoneInfo
    ) -> None:
        self.hours = hours
        self.holidays = holidays
        self.zone = zone

    @classmethod
    def of(cls, session: Session, zone: ZoneInfo) -> OpeningHours:
        """The loaded dealership's hours; always closed when no dealership data is loaded."""
        row = dealer(session)
        if row is None:
            return cls({}, frozenset(), zone)
        hours = {
            day: (time.fromisoformat(opens), time.fromisoformat(closes))
            for day, (opens, closes) in row.opening_hours.items()
        }
        return cls(hours, frozenset(date.fromisoformat(d) for d in row.holidays), zone)

    def day(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing instants (UTC) of a local day; None when closed all day."""
        hours = self.hours.get(WEEKDAYS[day.weekday()])
        if hours is None or day in self.holidays:
            return None
        opens, closes = (
            datetime.combine(day, t).replace(tzinfo=self.zone).astimezone(UTC) for t in hours
        )
        return opens, closes

    def _periods(self, at: datetime) -> list[tuple[datetime, datetime]]:
        first = at.astimezone(self.zone).date()
        found = []
        for n in range(SEARCH_DAYS + 1):
            period = self.day(first + timedelta(days=n))
            if period is not None and period[1] > at:
                found.append(period)
        return found

    def is_open(self, at: datetime) -> bool:
        return any(opens <= at < closes for opens, closes in self._periods(at)[:1])

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the next opening instant (None: closed for a month)."""
        periods = self._periods(at)
        if not periods:
            return None
        return max(periods[0][0], at)

    def after_open_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` of opening time after ``start`` (wall time when never open)."""
        left = timedelta(minutes=minutes)
        for opens, closes in self._periods(start):
            begin = max(opens, start)
            if begin + left <= closes:
                return begin + left
            left -= closes - begin
        return start + timedelta(minutes=minutes)
