"""python manage.py evaluate [--quick] [--only STEP] [--datasets DIR]: the quality
evaluation on the labeled public data sets, with a progress bar per stage; prints the
tables and writes them under var/eval/ (see insights/evaluation/)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from devtools.evaluation.datasets import DatasetError
from devtools.evaluation.report import text_table, write_report
from devtools.evaluation.steps import STEP_NAMES, EvaluationConfig, run_evaluation


class Command(BaseCommand):
    help = (
        "Measure themes (Banking77), sentiment (airline tweets) and pain points against "
        "BERTopic, hdbscan, k-means and VADER; print the tables and write var/eval/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quick", action="store_true", help="skip hdbscan on the raw embeddings (~150 s)"
        )
        parser.add_argument("--only", choices=STEP_NAMES, help="run this step alone")
        parser.add_argument(
            "--datasets", type=Path, help="folder of the public data sets (default: settings)"
        )
        parser.add_argument(
            "--sentiment-sample", type=int, default=1000, help="test tweets (default 1,000)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out_dir = Path(settings.VAR_DIR) / "eval"
        config = EvaluationConfig(
            datasets_dir=options["datasets"] or Path(settings.FEEDLENS_DATASETS_DIR),
            cache_dir=out_dir / "cache",
            quick=options["quick"],
            sentiment_sample=options["sentiment_sample"],
        )
        steps = (options["only"],) if options["only"] else STEP_NAMES
        bars: dict[str, tqdm] = {}

        def show(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage) or bars.setdefault(stage, tqdm(desc=f"{stage:<16}"))
            bar.total = total
            bar.update(done - bar.n)

        try:
            sections, run = run_evaluation(config, steps, observe=show)
        except DatasetError as error:
            raise CommandError(str(error)) from error
        finally:
            for bar in bars.values():
                bar.close()
        for section in sections:
            self.stdout.write("\n" + text_table(section))
        paths = write_report(sections, run, out_dir)
        self.stdout.write(
            f"\nWall time {run['wall seconds']} s. Written: {', '.join(map(str, paths))}"
        )
