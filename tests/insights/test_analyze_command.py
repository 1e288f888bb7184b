from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import DataSource, FeedbackItem
from insights import embedding
from insights.models import ItemEmbedding

pytestmark = pytest.mark.django_db


def analyze(*args: str) -> str:
    out = StringIO()
    call_command("analyze", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_embeds_pending_items_of_one_source_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "EMBED_BATCH_SIZE", 2)
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk")
    for n in range(5):
        FeedbackItem.objects.create(
            source=store, kind="review", text=f"review {n}", content_hash=f"s{n}"
        )
    FeedbackItem.objects.create(source=desk, kind="ticket", text="login fails", content_hash="d")
    assert "Embedded 5 items." in analyze("--source=App Store")
    assert set(ItemEmbedding.objects.values_list("item__source__name", flat=True)) == {"App Store"}
    assert "Embedded 1 items." in analyze()
    assert "Embedded 0 items." in analyze()


def test_it_names_an_unknown_source() -> None:
    with pytest.raises(CommandError, match="no data source named 'Nope'"):
        analyze("--source=Nope")
