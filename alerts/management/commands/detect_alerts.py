"""Find the alerts of past weeks: the last full week by default, every week with --all."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from alerts.detection import detect_full_weeks, detect_week, weeks_with_feedback
from alerts.rules import monday_of


class Command(BaseCommand):
    help = "Find what changed in a week's feedback (spikes, rises, new themes, negative jumps)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--week", type=date.fromisoformat, help="a day of the week to test")
        which.add_argument("--all", action="store_true", help="every full week with feedback")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["week"]:
            found = detect_week(monday_of(options["week"]))
        elif options["all"]:
            found = [alert for week in weeks_with_feedback() for alert in detect_week(week)]
        else:
            found = detect_full_weeks()
        for alert in found:
            self.stdout.write(f"{alert.week} {alert.get_kind_display()}: {alert.summary}")
        self.stdout.write(f"{len(found)} new alert{'s' * (len(found) != 1)}.")
