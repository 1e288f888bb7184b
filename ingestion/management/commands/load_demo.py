"""python manage.py load_demo: the demo data set and a demo login, for `make demo`."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import (
    DEMO_PASSWORD,
    DEMO_PEOPLE,
    DEMO_USERNAME,
    load_demo_feedback,
    make_demo_person,
)


class Command(BaseCommand):
    help = "Load the demo feedback (several weeks of reviews, tickets and posts) and a demo login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--weeks", type=int, default=8)
        parser.add_argument("--per-week", type=int, default=180)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--published-logins",
            action="store_true",
            help="make the demo logins even with DEBUG off (their password is in the README)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["published_logins"]:
            raise CommandError(
                "load_demo makes logins whose password is published (a superuser among "
                "them), so it runs only with DEBUG=true, as `make demo` sets it. On a "
                "machine no one else can reach, pass --published-logins."
            )
        count = options["weeks"] * options["per_week"]
        records = generate_demo_feedback(
            seed=options["seed"], weeks=options["weeks"], items_per_week=options["per_week"]
        )
        result = load_demo_feedback(tqdm(records, total=count, desc="demo feedback", unit="item"))
        self.stdout.write(
            f"Demo feedback: {result.created:,} new items, {result.duplicates:,} already there."
        )
        for username, role in DEMO_PEOPLE:
            make_demo_person(username, role)
        self.stdout.write("Also: pm (product manager) and support (support lead), same password.")
        self.stdout.write(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}")
