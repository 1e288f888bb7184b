"""The embedding stage: items in, one stored vector per distinct text and model.

Texts already embedded by the same model are never embedded again, whichever item they
came with.
"""

from collections.abc import Callable, Iterable

import numpy as np
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Length

from ingestion.models import FeedbackItem
from ingestion.normalise import content_hash
from insights.models import ItemEmbedding, TextEmbedding
from llm.interfaces import TextEmbedder


def text_hash(text: str) -> str:
    return content_hash(text, None)


def items_needing_embedding(model_name: str) -> QuerySet[FeedbackItem]:
    """Return items with no embedding, or one from another model."""
    return FeedbackItem.objects.exclude(embedding__embedding__model_name=model_name)


def embed_items(item_ids: Iterable[int], embedder: TextEmbedder) -> int:
    """Give each item an embedding from embedder; return how many texts were newly
    embedded (the rest were found stored)."""
    items = list(
        items_needing_embedding(embedder.name).filter(pk__in=list(item_ids)).only("id", "text")
    )
    hashes = {item.pk: text_hash(item.text) for item in items}
    stored = _stored_embeddings(embedder.name, set(hashes.values()))
    new_texts = {hashes[item.pk]: item.text for item in items if hashes[item.pk] not in stored}
    vectors = embedder.embed(list(new_texts.values()))
    with transaction.atomic():
        stored |= _store_embeddings(embedder, list(new_texts), vectors)
        ItemEmbedding.objects.bulk_create(
            [ItemEmbedding(item_id=pk, embedding_id=stored[h]) for pk, h in hashes.items()],
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=["embedding"],
        )
    return len(new_texts)


def _stored_embeddings(model_name: str, hashes: set[str]) -> dict[str, int]:
    rows = TextEmbedding.objects.filter(model_name=model_name, text_hash__in=hashes)
    return dict(rows.values_list("text_hash", "id"))


def _store_embeddings(
    embedder: TextEmbedder, hashes: list[str], vectors: np.ndarray
) -> dict[str, int]:
    TextEmbedding.objects.bulk_create(
        [
            TextEmbedding(
                model_name=embedder.name,
                text_hash=h,
                dimensions=embedder.dimensions,
                vector=vector.astype("<f4").tobytes(),
            )
            for h, vector in zip(hashes, vectors, strict=True)
        ],
        # Another worker may embed the same text at the same moment; its row is as good.
        ignore_conflicts=True,
    )
    return _stored_embeddings(embedder.name, set(hashes))


# Items a batch: big enough to keep the model's batches full, small enough to commit often.
EMBED_BATCH_SIZE = 256


def embed_pending(
    embedder: TextEmbedder,
    source_id: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every item that needs it (of one source, if given) with embedder, batch by
    batch; return how many items were given an embedding. on_progress(done, total) follows
    each batch."""
    pending = items_needing_embedding(embedder.name)
    if source_id is not None:
        pending = pending.filter(source_id=source_id)
    # Shortest texts first: the model pads each batch to its longest text, so batches of
    # texts of one length waste nothing. Measured on the benchmark's mixed texts, 1.5-1.7x
    # the throughput of id order.
    ids = list(pending.order_by(Length("text"), "pk").values_list("pk", flat=True))
    for start in range(0, len(ids), EMBED_BATCH_SIZE):
        embed_items(ids[start : start + EMBED_BATCH_SIZE], embedder)
        if on_progress:
            on_progress(min(start + EMBED_BATCH_SIZE, len(ids)), len(ids))
    return len(ids)


def item_vectors(items: QuerySet[FeedbackItem], model_name: str) -> tuple[list[int], np.ndarray]:
    """Return the ids of the items embedded by model_name, in id order, and their vectors
    as one float32 row each (items without such an embedding are left out)."""
    rows = (
        ItemEmbedding.objects.filter(item__in=items, embedding__model_name=model_name)
        .order_by("item_id")
        .values_list("item_id", "embedding__vector")
    )
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for item_id, vector in rows.iterator(chunk_size=2000):
        ids.append(item_id)
        vectors.append(np.frombuffer(bytes(vector), dtype="<f4"))
    if not vectors:
        return ids, np.zeros((0, 0), dtype=np.float32)
    return ids, np.stack(vectors)
