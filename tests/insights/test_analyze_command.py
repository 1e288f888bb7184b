from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import DataSource, FeedbackItem
from insights.models import AnalysisRun, ItemEmbedding, ItemSentiment, RunStatus

pytestmark = pytest.mark.django_db


def analyze(*args: str) -> str:
    out = StringIO()
    call_command("analyze", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_analyses_the_items_of_one_source_and_reports_each_stage() -> None:
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk")
    texts = ["The app crashes when I scan a receipt.", "Love the new budget view!", "Sync fails"]
    for n, text in enumerate(texts):
        FeedbackItem.objects.create(source=store, kind="review", text=text, content_hash=f"s{n}")
    FeedbackItem.objects.create(source=desk, kind="ticket", text="login fails", content_hash="d")

    output = analyze("--source=App Store")

    assert "embedding: 3 items" in output
    assert "sentiment: 3 items" in output
    assert f"Analysis run {AnalysisRun.objects.get().pk}: done." in output
    assert AnalysisRun.objects.get().source == store
    assert set(ItemEmbedding.objects.values_list("item__source__name", flat=True)) == {"App Store"}
    assert ItemSentiment.objects.count() == 3
    assert "embedding: 1 items" in analyze()
    assert "embedding: 0 items" in analyze()
    assert AnalysisRun.objects.filter(status=RunStatus.DONE).count() == 3


def test_it_names_an_unknown_source() -> None:
    with pytest.raises(CommandError, match="no data source named 'Nope'"):
        analyze("--source=Nope")
