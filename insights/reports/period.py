"""The period a report covers: whole days in one time zone, by default the last full week
(Monday to Sunday), compared with the period of the same length just before it."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone

ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be reported on, with a message for the person who asked."""


@dataclass(frozen=True)
class Period:
    """The days start to end (both included) in the time zone named time_zone."""

    start: date
    end: date
    time_zone: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"the period ends ({self.end}) before it starts ({self.start})")
        zone(self.time_zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def starts_at(self) -> datetime:
        """Return the first instant of the period (midnight at the start, local time)."""
        return datetime.combine(self.start, time.min, tzinfo=zone(self.time_zone))

    @property
    def ends_at(self) -> datetime:
        """Return the first instant after the period: the bound a query uses with `<`."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone(self.time_zone))

    @property
    def iso_week(self) -> str | None:
        """Return the ISO week ("2015-W08") when the period is exactly one, else None."""
        year, week, weekday = self.start.isocalendar()
        return f"{year}-W{week:02d}" if weekday == 1 and self.days == 7 else None

    @property
    def label(self) -> str:
        span = f"{_day(self.start)} to {_day(self.end)}"
        return f"{self.iso_week} ({span})" if self.iso_week else span

    def previous(self) -> "Period":
        """Return the period of the same length that ends the day before this one starts."""
        length = timedelta(days=self.days)
        return Period(self.start - length, self.end - length, self.time_zone)

    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise PeriodError(
            f"{name!r} is not a time zone (use an IANA name like Europe/Paris)"
        ) from error


def default_time_zone() -> str:
    return settings.FEEDLENS_REPORT_TIME_ZONE or settings.TIME_ZONE


def last_full_week(time_zone: str | None = None, now: datetime | None = None) -> Period:
    """Return the last Monday-to-Sunday week that has ended in the time zone at now."""
    time_zone = time_zone or default_time_zone()
    today = (now or timezone.now()).astimezone(zone(time_zone)).date()
    this_monday = today - timedelta(days=today.weekday())
    return Period(this_monday - timedelta(weeks=1), this_monday - timedelta(days=1), time_zone)


def iso_week(text: str, time_zone: str | None = None) -> Period:
    """Return the week written as ISO 8601 ("2015-W08" or "2015W08")."""
    match = ISO_WEEK.match(text.strip())
    if not match:
        raise PeriodError(f"{text!r} is not an ISO week: write it like 2015-W08")
    year, week = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as error:
        raise PeriodError(f"{year} has no week {week}") from error
    return Period(monday, monday + timedelta(days=6), time_zone or default_time_zone())
