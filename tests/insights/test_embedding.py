import numpy as np
import pytest

from insights.local_models import configured_embedder
from insights.models import ItemEmbedding, TextEmbedding
from insights.pipeline.embedding import embed_items
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
