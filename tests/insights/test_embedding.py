import numpy as np
import pytest

from ingestion.models import FeedbackItem
from insights.local_models import configured_embedder
from insights.models import ItemEmbedding, TextEmbedding, UnitEmbedding
from insights.pipeline.embedding import (
    count_points,
    embed_items,
    embed_pending,
    items_needing_embedding,
    point_vectors,
    theme_points,
)
from insights.pipeline.units import text_units
from llm.embeddings import load_embedder
from tests.factories import add_item_ids

pytestmark = pytest.mark.django_db


def vector_of(item_id: int) -> np.ndarray:
    return ItemEmbedding.objects.get(item_id=item_id).embedding.as_array()


def test_each_item_gets_a_unit_vector_from_the_packaged_model() -> None:
    ids = add_item_ids("The app crashes when I scan a receipt", "I love the budgeting screen")
    assert embed_items(ids, configured_embedder()) == 2
    vector = vector_of(ids[0])
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert TextEmbedding.objects.get(
        pk=ItemEmbedding.objects.get(item_id=ids[0]).embedding_id
    ).model_name == ("all-MiniLM-L6-v2")


def test_similar_complaints_lie_closer_than_unrelated_praise() -> None:
    crash, crash_again, praise = add_item_ids(
        "The app crashes when I scan a receipt",
        "Scanning receipts makes Pennywise crash since the update",
        "I love how clear the budgeting screen is",
    )
    embed_items([crash, crash_again, praise], configured_embedder())
    assert vector_of(crash) @ vector_of(crash_again) > vector_of(crash) @ vector_of(praise) + 0.2


def test_a_text_is_embedded_once_whatever_items_carry_it() -> None:
    first = add_item_ids("Bank sync fails every morning", "bank sync  FAILS every morning")
    assert embed_items(first, configured_embedder()) == 1
    assert vector_of(first[0]).tobytes() == vector_of(first[1]).tobytes()
    later = add_item_ids("Bank sync fails every morning")
    assert embed_items(later + first, configured_embedder()) == 0
    assert TextEmbedding.objects.count() == 1
    assert ItemEmbedding.objects.count() == 3


def test_the_embedder_is_loaded_once_per_process() -> None:
    assert load_embedder("") is load_embedder("")
    assert load_embedder("").embed([]).shape == (0, 384)


LONG_REVIEW = (
    "The seat was wide and comfortable, with plenty of legroom for the whole ten hour "
    "flight to Singapore. Sadly the airline lost my checked suitcase on the way and nobody "
    "at the baggage desk in the arrivals hall could trace it. The crew were friendly and "
    "brought water round every hour without being asked."
)
ONE_LONG_SENTENCE = (
    "I have been using this budgeting app for three years across two phones and a tablet "
    "and it has never once failed to sync my bank accounts, categorise my spending or remind "
    "me of bills, which is more than I can say for any other finance app I have tried over "
    "the last ten years or so on my phones"
)


def test_a_long_item_is_embedded_whole_and_unit_by_unit_once() -> None:
    long_id, sentence_id, short_id = add_item_ids(
        LONG_REVIEW, ONE_LONG_SENTENCE, "The seat was wide and comfortable"
    )
    embedder = configured_embedder()
    # The long review whole and its three sentences; the long sentence whole (its one unit
    # is the same text); the short item.
    assert embed_pending(embedder) == 3
    assert TextEmbedding.objects.count() == 6
    units = UnitEmbedding.objects.filter(item_id=long_id).order_by("start")
    assert [LONG_REVIEW[u.start : u.end] for u in units] == [
        unit.of(LONG_REVIEW) for unit in text_units(LONG_REVIEW)
    ]
    assert len(units) == 3
    one = UnitEmbedding.objects.get(item_id=sentence_id)
    assert one.embedding_id == ItemEmbedding.objects.get(item_id=sentence_id).embedding_id
    assert not UnitEmbedding.objects.filter(item_id=short_id).exists()
    assert not items_needing_embedding(embedder.name).exists()  # nothing is redone

    points = theme_points(FeedbackItem.objects.all(), embedder.name)
    # The short item whole first, then the units, by item and start.
    assert points.item_ids.tolist() == [short_id] + [long_id] * 3 + [sentence_id]
    spans = [points.span(point) for point in range(len(points))]
    assert spans == [None] + [(u.start, u.end) for u in units] + [None]
    assert points.vectors.shape == (5, 384)
    assert count_points(embedder.name) == 5
    second, missing = (long_id, units[1].start), (long_id, units[1].start + 1)
    found = point_vectors([second, (short_id, None), missing], embedder.name)
    assert set(found) == {second, (short_id, None)}
    assert found[second].tobytes() == points.vectors[2].tobytes()
    assert found[short_id, None].tobytes() == points.vectors[0].tobytes()
