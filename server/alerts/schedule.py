"""Rule schedules, judged in the site's time zone. A window whose start is after its end spans
midnight and belongs to the day it starts on (Monday 23:00 to 04:00 covers Tuesday 02:00)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contract.config.rules import Schedule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day(moment: datetime) -> str:
    return WEEKDAYS[moment.weekday()]


def is_active(schedule: Schedule | None, site_timezone: str, now: datetime) -> bool:
    """Whether a rule with this schedule is active at `now` (no schedule: always)."""
    if schedule is None:
        return True
    local = now.astimezone(ZoneInfo(schedule.timezone or site_timezone))
    clock = local.time().replace(tzinfo=None)
    if schedule.start <= schedule.end:
        return _day(local) in schedule.days and schedule.start <= clock <= schedule.end
    if clock >= schedule.start:
        return _day(local) in schedule.days
    if clock <= schedule.end:
        return _day(local - timedelta(days=1)) in schedule.days
    return False
