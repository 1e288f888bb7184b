"""python manage.py analyze [--source NAME] [--recluster]: one analysis run, with progress."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from ingestion.models import DataSource
from insights.pipeline.run import RunInProgress, new_run, run_analysis


class Command(BaseCommand):
    help = (
        "Analyse stored feedback: embed new items, score their sentiment, give them themes "
        "(clustering everything again with --recluster or when there are no themes yet), "
        "and name and summarise the themes that changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="only the items of this data source")
        parser.add_argument(
            "--recluster", action="store_true", help="cluster every item into themes again"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = self._source(options["source"])
        try:
            source_id = source.pk if source else None
            run = new_run(source_id=source_id, recluster=options["recluster"])
        except RunInProgress as busy:
            if busy.run is None or not busy.run.is_abandoned:
                raise CommandError(str(busy)) from busy
            # Left running by a worker (or a command) that stopped: carried on here.
            self.stdout.write(f"Carrying on analysis run {busy.run.pk}, which was abandoned.")
            run = busy.run
        bars: list[tuple[str, tqdm]] = []

        def show(stage: str, done: int, total: int) -> None:
            if not bars or bars[-1][0] != stage:
                if bars:
                    bars[-1][1].close()  # the stage before is over
                bars.append((stage, tqdm(desc=f"{stage:<10}", unit="item")))
            bar = bars[-1][1]
            bar.total = total
            bar.update(done - bar.n)

        try:
            run = run_analysis(run.pk, observer=show)
        finally:
            if bars:
                bars[-1][1].close()
        for stage, figures in run.stats.items():
            self.stdout.write(f"{stage}: {figures['items']:,} items in {figures['seconds']:.1f} s")
        self.stdout.write(f"Analysis run {run.pk}: {run.get_status_display().lower()}.")

    def _source(self, name: str | None) -> DataSource | None:
        if not name:
            return None
        source = DataSource.objects.filter(name=name).first()
        if source is None:
            raise CommandError(f"there is no data source named {name!r}")
        return source
