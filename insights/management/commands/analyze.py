"""python manage.py analyze [--source NAME]: run the analysis stages that exist, with progress."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from ingestion.models import DataSource
from insights.embedding import embed_pending


class Command(BaseCommand):
    help = "Analyse stored feedback: embed every item that has no embedding yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="only this data source")

    def handle(self, *args: Any, **options: Any) -> None:
        source_id = None
        if options["source"]:
            source = DataSource.objects.filter(name=options["source"]).first()
            if source is None:
                raise CommandError(f"there is no data source named {options['source']!r}")
            source_id = source.pk
        with tqdm(desc="embedding", unit="item") as bar:

            def show(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            embedded = embed_pending(source_id, on_progress=show)
        self.stdout.write(f"Embedded {embedded:,} items.")
