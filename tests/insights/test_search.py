import threading
import uuid

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import roles
from ingestion.models import DataSource, FeedbackItem
from insights.dashboards import search as semantic
from insights.dashboards.filters import FeedbackFilters
from insights.local_models import configured_embedder
from insights.models import (
    ItemEmbedding,
    ItemSentiment,
    TextEmbedding,
    Theme,
    ThemeAssignment,
)
from insights.pipeline.embedding import embed_items
from insights.views import search as search_view
from llm.embeddings import load_embedder
from tests.factories import add_item_ids

pytestmark = pytest.mark.django_db

MODEL = "all-MiniLM-L6-v2"
QUERY = "refund for a cancelled flight"
REFUNDS = [
    "They cancelled my flight and I still have not got my money back",
    "Flight cancelled, the airline refuses to reimburse the ticket",
    "Still waiting for a refund weeks after my trip was cancelled",
]
OTHERS = [
    "The seats were comfortable and the crew was friendly",
    "The app crashes whenever I try to check in online",
    "Lovely hotel breakfast and great coffee",
    "My suitcase arrived two hours after I landed",
    "The boarding pass would not load on my phone",
]


@pytest.fixture(autouse=True)
def fresh_index(monkeypatch: pytest.MonkeyPatch) -> semantic.VectorIndex:
    """Each test starts with an empty process index: the database is rolled back between
    tests and can give the same ids to other items."""
    index = semantic.VectorIndex()
    monkeypatch.setattr(semantic, "_default_index", index)
    return index


@pytest.fixture
def support_lead_client(client: Client) -> Client:
    user = User.objects.create_user("sam", password="x")
    user.groups.add(Group.objects.get(name=roles.SUPPORT_LEAD))
    client.force_login(user)
    return client


def add_embedded_items(*texts: str, source: str = "App Store", kind: str = "review") -> list[int]:
    ids = add_item_ids(*texts, source=source, kind=kind)
    embed_items(ids, configured_embedder())
    return ids


def hit_ids(query: str = QUERY, limit: int = 20, filters: dict | None = None) -> list[int]:
    chosen = FeedbackFilters(filters) if filters else None
    return [
        hit.item_id
        for hit in semantic.search(query, limit, chosen, embedder=configured_embedder()).hits
    ]


def test_the_items_about_the_query_come_before_the_others() -> None:
    others = add_embedded_items(*OTHERS[:2])
    refunds = add_embedded_items(*REFUNDS)
    others += add_embedded_items(*OTHERS[2:])
    hits = semantic.search(QUERY, 20, embedder=configured_embedder()).hits
    assert {hit.item_id for hit in hits[:3]} == set(refunds)
    assert {hit.item_id for hit in hits[3:]} == set(others)
    similarities = [hit.similarity for hit in hits]
    assert similarities == sorted(similarities, reverse=True)
    assert hits[2].similarity > hits[3].similarity + 0.1


def test_the_limit_keeps_only_the_nearest() -> None:
    refunds = add_embedded_items(*REFUNDS)
    add_embedded_items(*OTHERS)
    assert set(hit_ids(limit=3)) == set(refunds)


def test_filters_combine_with_the_search() -> None:
    review_refunds = add_embedded_items(*REFUNDS[:2])
    ticket_refund = add_embedded_items(REFUNDS[2], source="Help desk", kind="ticket")
    tickets = add_embedded_items(*OTHERS[:2], source="Help desk", kind="ticket")
    add_embedded_items(*OTHERS[2:])
    ticket_hits = hit_ids(filters={"kind": "ticket"})
    assert ticket_hits[0] == ticket_refund[0]
    assert set(ticket_hits) == set(ticket_refund + tickets)
    ItemSentiment.objects.create(item_id=review_refunds[0], predicted="negative")
    ItemSentiment.objects.create(item_id=review_refunds[1], predicted="neutral")
    ItemSentiment.objects.create(item_id=tickets[0], predicted="neutral", corrected="negative")
    negative = hit_ids(filters={"sentiment": "negative"})
    assert negative == [review_refunds[0], tickets[0]]
    assert hit_ids(filters={"sentiment": "negative", "kind": "ticket"}) == [tickets[0]]


def test_a_narrow_filter_finds_its_items_beyond_the_nearest_checked_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_embedded_items(*REFUNDS)
    add_embedded_items(*OTHERS[:4])
    far = add_embedded_items(OTHERS[4], source="Forum")
    # Check only the 2 nearest items against the filters first: the Forum item is not
    # among them, so the search must look past them.
    monkeypatch.setattr(semantic, "OVERFETCH_MIN", 2)
    monkeypatch.setattr(semantic, "OVERFETCH_FACTOR", 1)
    forum = DataSource.objects.get(name="Forum")
    assert hit_ids(limit=1, filters={"source": str(forum.pk)}) == far


def test_the_index_takes_in_new_items_without_loading_everything_again(
    fresh_index: semantic.VectorIndex,
) -> None:
    add_embedded_items(*OTHERS)
    assert fresh_index.snapshot(MODEL).size == len(OTHERS)
    refunds = add_embedded_items(*REFUNDS)
    snapshot = fresh_index.snapshot(MODEL)
    assert snapshot.size == len(OTHERS) + len(REFUNDS)
    assert fresh_index.rebuilds == 1
    assert set(hit_ids(limit=3)) == set(refunds)


def test_unchanged_embeddings_reuse_the_same_snapshot(fresh_index: semantic.VectorIndex) -> None:
    add_embedded_items(*OTHERS)
    assert fresh_index.snapshot(MODEL) is fresh_index.snapshot(MODEL)


def test_items_embedded_after_newer_ones_are_taken_in(fresh_index: semantic.VectorIndex) -> None:
    store = DataSource.objects.create(name="App Store")
    older = FeedbackItem.objects.create(
        source=store, kind="review", text=REFUNDS[0], content_hash="older"
    )
    add_embedded_items(*OTHERS)
    assert fresh_index.snapshot(MODEL).size == len(OTHERS)
    embed_items([older.pk], configured_embedder())
    assert fresh_index.snapshot(MODEL).size == len(OTHERS) + 1
    assert fresh_index.rebuilds == 1
    assert hit_ids(limit=1) == [older.pk]


def test_removed_items_leave_the_index(fresh_index: semantic.VectorIndex) -> None:
    refunds = add_embedded_items(*REFUNDS)
    add_embedded_items(*OTHERS)
    assert hit_ids(limit=1)[0] in refunds
    FeedbackItem.objects.filter(pk__in=refunds[:2]).delete()
    assert fresh_index.snapshot(MODEL).size == len(OTHERS) + 1
    assert hit_ids(limit=1) == refunds[2:]
    assert refunds[0] not in hit_ids()
    assert fresh_index.rebuilds == 1


def test_a_change_of_embedding_model_rebuilds_the_index(
    fresh_index: semantic.VectorIndex,
) -> None:
    ids = add_embedded_items(*OTHERS)
    assert fresh_index.snapshot(MODEL).matrix.shape == (len(OTHERS), 384)
    # Another model's vectors (8 dimensions) replace the items' embeddings.
    rng = np.random.default_rng(0)
    for item_id in ids[:3]:
        vector = rng.normal(size=8).astype("<f4")
        vector /= np.linalg.norm(vector)
        other = TextEmbedding.objects.create(
            model_name="other-model",
            text_hash=uuid.uuid4().hex,
            dimensions=8,
            vector=vector.tobytes(),
        )
        ItemEmbedding.objects.filter(item_id=item_id).update(embedding=other)
    snapshot = fresh_index.snapshot("other-model")
    assert fresh_index.rebuilds == 2
    assert snapshot.matrix.shape == (3, 8)
    assert sorted(snapshot.item_ids.tolist()) == sorted(ids[:3])
    # Back on the first model, the items still on it are all it holds.
    assert fresh_index.snapshot(MODEL).size == len(OTHERS) - 3


def test_an_index_of_one_model_drops_items_re_embedded_by_another(
    fresh_index: semantic.VectorIndex,
) -> None:
    ids = add_embedded_items(*OTHERS)
    fresh_index.snapshot(MODEL)
    other = TextEmbedding.objects.create(
        model_name="other-model", text_hash="x", dimensions=384, vector=bytes(384 * 4)
    )
    ItemEmbedding.objects.filter(item_id=ids[0]).update(embedding=other)
    snapshot = fresh_index.snapshot(MODEL)
    assert ids[0] not in snapshot.item_ids[snapshot.live].tolist()
    assert snapshot.size == len(OTHERS) - 1
    assert fresh_index.rebuilds == 1


def test_new_items_of_another_model_are_left_out_and_not_fetched_again(
    fresh_index: semantic.VectorIndex,
) -> None:
    add_embedded_items(*OTHERS)
    fresh_index.snapshot(MODEL)
    store = DataSource.objects.get(name="App Store")
    item = FeedbackItem.objects.create(source=store, kind="review", text="x", content_hash="x")
    other = TextEmbedding.objects.create(
        model_name="other-model", text_hash="x", dimensions=384, vector=bytes(384 * 4)
    )
    ItemEmbedding.objects.create(item=item, embedding=other)
    snapshot = fresh_index.snapshot(MODEL)
    assert snapshot.size == len(OTHERS)
    assert fresh_index.snapshot(MODEL) is snapshot


@pytest.mark.django_db(transaction=True)
def test_requests_at_the_same_moment_load_the_index_once(
    fresh_index: semantic.VectorIndex,
) -> None:
    add_embedded_items(*OTHERS)
    snapshots: list[semantic.Snapshot] = []

    def search_in_a_thread() -> None:
        try:
            snapshots.append(fresh_index.snapshot(MODEL))
        finally:
            connection.close()

    threads = [threading.Thread(target=search_in_a_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(snapshots) == 4
    assert all(snapshot is snapshots[0] for snapshot in snapshots)
    assert snapshots[0].size == len(OTHERS)
    assert fresh_index.rebuilds == 1


def test_the_query_is_embedded_by_the_model_the_items_were() -> None:
    add_embedded_items(*REFUNDS)
    expected = load_embedder("").embed([QUERY])[0]
    stored = ItemEmbedding.objects.first().embedding.as_array()  # type: ignore[union-attr]
    best = semantic.search(QUERY, 3, embedder=configured_embedder()).hits
    assert max(hit.similarity for hit in best) >= float(stored @ expected) - 1e-5


def test_the_page_shows_each_hit_with_its_theme_and_sentiment(
    support_lead_client: Client,
) -> None:
    refunds = add_embedded_items(*REFUNDS)
    add_embedded_items(*OTHERS)
    theme = Theme.objects.create(name="Refunds after cancellations", embedding_model=MODEL)
    ThemeAssignment.objects.create(item_id=refunds[0], theme=theme, method="cluster")
    ItemSentiment.objects.create(item_id=refunds[0], predicted="neutral", corrected="negative")
    ItemSentiment.objects.create(item_id=refunds[1], predicted="negative", confidence=0.9)
    page = support_lead_client.get(reverse("insights:search"), {"q": QUERY})
    assert page.status_code == 200
    html = page.content.decode()
    shown = [hit.item.pk for hit in page.context["hits"]]
    assert set(shown[:3]) == set(refunds)
    assert f'href="{reverse("insights:theme_detail", args=[theme.pk])}"' in html
    assert "Refunds after cancellations" in html
    assert "(corrected)" in html
    assert html.count("(corrected)") == 1
    assert "Negative" in html
    assert f"{page.context['hits'][0].similarity:.2f}" in html
    assert 'name="q" value="refund for a cancelled flight"' in html


def test_the_page_pages_through_the_hits(
    support_lead_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_view, "HITS_PER_PAGE", 3)
    add_embedded_items(*REFUNDS, *OTHERS)
    url = reverse("insights:search")
    first = support_lead_client.get(url, {"q": QUERY, "kind": "review"})
    assert len(first.context["hits"]) == 3
    assert first.context["previous_url"] == ""
    assert first.context["next_url"] == "?q=refund+for+a+cancelled+flight&kind=review&page=2"
    second = support_lead_client.get(url + first.context["next_url"])
    third = support_lead_client.get(url + second.context["next_url"])
    assert len(third.context["hits"]) == 2
    assert third.context["next_url"] == ""
    assert third.context["first_rank"] == 7
    pages = [first, second, third]
    shown = [hit.item.pk for page in pages for hit in page.context["hits"]]
    assert shown == hit_ids(limit=20)
    assert 'start="7"' in third.content.decode()


def test_the_filter_bar_keeps_the_query_and_the_search_box_the_filters(
    support_lead_client: Client,
) -> None:
    add_embedded_items(*REFUNDS)
    page = support_lead_client.get(reverse("insights:search"), {"q": QUERY, "kind": "ticket"})
    html = page.content.decode()
    assert '<input type="hidden" name="q" value="refund for a cancelled flight">' in html
    assert '<input type="hidden" name="kind" value="ticket">' in html
    assert page.context["hits"] == []
    assert "No feedback within these filters." in html


def test_an_empty_query_shows_the_search_box_with_a_hint(support_lead_client: Client) -> None:
    page = support_lead_client.get(reverse("insights:search"), {"q": "  "})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'type="search" name="q" value=""' in html
    assert "Search by meaning, not by words" in html
    assert "hits" not in page.context


def test_before_any_analysis_the_page_says_there_is_nothing_to_search(
    support_lead_client: Client,
) -> None:
    DataSource.objects.create(name="App Store").items.create(
        kind="review", text=REFUNDS[0], content_hash="not embedded"
    )
    page = support_lead_client.get(reverse("insights:search"), {"q": QUERY})
    assert page.context["indexed"] == 0
    assert "No feedback has been analysed yet" in page.content.decode()


def test_anonymous_people_are_sent_to_log_in(client: Client) -> None:
    response = client.get(reverse("insights:search"), {"q": QUERY})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_people_without_a_role_are_told_so(client: Client) -> None:
    client.force_login(User.objects.create_user("nobody", password="x"))
    response = client.get(reverse("insights:search"), {"q": QUERY})
    assert response.status_code == 403
    assert "no_role.html" in [template.name for template in response.templates]
