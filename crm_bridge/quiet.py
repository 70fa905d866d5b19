"""Quiet hours: no proactive message to a customer between, by default, 21:00 and 09:00 in the
dealer's time zone; what falls due then goes out when they end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` local time (across midnight when end < start); start == end is
    no quiet hours at all."""

    zone: ZoneInfo
    start: time = time(21, 0)
    end: time = time(9, 0)

    def quiet(self, at: datetime) -> bool:
        if self.start == self.end:
            return False
        local = at.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, at: datetime) -> datetime:
        """``at`` itself, or the end of the quiet hours it falls in (a real instant, in UTC)."""
        if not self.quiet(at):
            return at
        local = at.astimezone(self.zone)
        end = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(at.tzinfo)
