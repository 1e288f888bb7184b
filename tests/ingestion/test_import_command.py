from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import DataSource, FeedbackItem
from ingestion.presets import PRESETS

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "fixtures"


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("import_feedback", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_imports_a_file_with_a_column_mapping() -> None:
    output = run_command(
        str(FIXTURES / "reviews.csv"),
        "--source=App Store",
        "--kind=review",
        "--map=text=body",
        "--map=date=posted",
        "--map=rating=stars",
        "--map=id=review_id",
        "--map=title=headline",
        "--meta=user",
    )
    assert "Created the data source 'App Store'." in output
    assert "5 rows read: 5 new items, 0 duplicates skipped, 0 rows with errors." in output
    item = FeedbackItem.objects.get(external_id="r-2")
    assert (item.source.name, item.rating, item.metadata) == ("App Store", 1.0, {"user": "ben"})


def test_it_lists_the_rows_it_could_not_import(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("body,posted\nfine,2026-01-01\n,2026-01-02\nalso fine,yesterday-ish\n")
    output = run_command(
        str(path), "--source=S", "--kind=ticket", "--map=text=body", "--map=date=posted"
    )
    assert "3 rows read: 1 new items, 0 duplicates skipped, 2 rows with errors." in output
    assert "row 2 (line 3): text is empty" in output
    assert "row 3 (line 4): created_at 'yesterday-ish' is not a date" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind=review"], "name the column that holds the text"),
        (["--kind=review", "--map=body"], "expected FIELD=COLUMN"),
        (["--map=text=body"], "say what the items are with --kind"),
        (["--kind=review", "--map=text=body", "--timezone=Mars/Olympus"], "unknown time zone"),
    ],
)
def test_it_explains_a_wrong_invocation(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run_command(str(FIXTURES / "reviews.csv"), "--source=S", *args)


def test_the_airline_tweets_import_once_with_the_preset(datasets_dir: Path) -> None:
    path = str(datasets_dir / PRESETS["airline_tweets"].dataset_file)
    first = run_command(path, "--source=Airline tweets", "--preset=airline_tweets")
    again = run_command(path, "--source=Airline tweets", "--preset=airline_tweets")
    # The file has 14,640 rows; 155 tweet ids appear twice in it (the same tweet again).
    assert (
        "14,640 rows read: 14,485 new items, 155 duplicates skipped, 0 rows with errors." in first
    )
    assert "14,640 rows read: 0 new items, 14,640 duplicates skipped, 0 rows with errors." in again
    source = DataSource.objects.get(name="Airline tweets")
    assert source.items.count() == 14_485
    assert source.items.filter(kind="social_post").count() == 14_485
    tweet = source.items.get(external_id="570306133677760513")
    assert tweet.text == "@VirginAmerica What @dhepburn said."
    assert tweet.created_at.isoformat() == "2015-02-24T19:35:00+00:00"
    assert tweet.metadata == {
        "airline": "Virgin America",
        "airline_sentiment": "neutral",
        "negativereason": "",
    }


@pytest.mark.parametrize(
    ("preset", "rows", "created"),
    [
        # Banking77 has no ids: 4 texts appear twice and are the same item.
        ("banking77", 10_003, 9_999),
        # Datafiniti repeats a review under each product variant: same text and date.
        ("amazon_reviews", 5_000, 4_384),
        ("comcast_complaints", 2_224, 2_224),
    ],
)
def test_the_other_datasets_import_with_their_presets(
    datasets_dir: Path, preset: str, rows: int, created: int
) -> None:
    path = str(datasets_dir / PRESETS[preset].dataset_file)
    output = run_command(path, f"--source={preset}", f"--preset={preset}")
    assert f"{rows:,} rows read: {created:,} new items" in output
    assert "0 rows with errors" in output
    assert FeedbackItem.objects.filter(source__name=preset).count() == created
