"""python manage.py webhook_token SOURCE: make (or replace) a source's webhook token."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from ingestion.models import DataSource, ItemKind, SourceKind


class Command(BaseCommand):
    help = "Print a new webhook token for a data source (made if new); the old token stops working."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="data source name")
        parser.add_argument("--kind", choices=ItemKind.values, default=ItemKind.TICKET)

    def handle(self, *args: Any, **options: Any) -> None:
        source, made = DataSource.objects.get_or_create(
            name=options["source"],
            defaults={"kind": SourceKind.WEBHOOK, "item_kind": options["kind"]},
        )
        if not source.enabled:
            raise CommandError(f"the source {source.name!r} is disabled; enable it first")
        token = source.rotate_webhook_token()
        url = reverse("ingestion:webhook", args=[source.pk])
        self.stdout.write(f"{'Created' if made else 'Updated'} {source.name!r}.")
        self.stdout.write(f"POST JSON items to {url} with the header:")
        self.stdout.write(f"Authorization: Bearer {token}")
        self.stdout.write("The token is shown only now; run this again to replace it.")
