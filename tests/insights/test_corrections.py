"""People's corrections: stored with who and when, allowed to the right people only, kept
across a real re-cluster, and counted everywhere a label is counted."""

from datetime import date, timedelta

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from ingestion.models import DataSource, FeedbackItem
from insights.curation.corrections import (
    CorrectionError,
    correct_item_sentiment,
    merge_themes,
    move_item_to_theme,
    rename_theme,
    set_theme_status,
)
from insights.local_models import configured_embedder
from insights.models import (
    AssignmentMethod,
    Correction,
    ItemSentiment,
    NameSource,
    Theme,
    ThemeAssignment,
    ThemeStatus,
)
from insights.pipeline.embedding import embed_pending
from insights.pipeline.sentiment.prompt import SENTIMENT_PROMPT_VERSION
from insights.pipeline.sentiment.stage import _refit_is_due, fit_sentiment_classifier
from insights.pipeline.themes.identity import assign_new_items, recluster
from tests.factories import make_theme
from tests.insights.test_theme_pages import add_item, model_version, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm() -> Client:
    return person("priya", roles.PRODUCT_MANAGER)


@pytest.fixture
def lead() -> Client:
    return person("sam", roles.SUPPORT_LEAD)


def priya() -> User:
    return User.objects.get(username="priya")


def message_of(response: object) -> str:
    """Return the last message the response left for the next page."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]  # type: ignore[attr-defined]


def assert_recorded(correction: Correction, kind: str, by: User, before: str, after: str) -> None:
    assert (correction.kind, correction.made_by, correction.before, correction.after) == (
        kind,
        by,
        before,
        after,
    )
    assert timezone.now() - correction.made_at < timedelta(minutes=1)


# --- the service functions -------------------------------------------------------------


def test_renaming_records_the_person_and_marks_the_name_as_theirs(pm: Client) -> None:
    theme = make_theme("Theme 4", [add_item("x")], name_source=NameSource.LLM)
    rename_theme(theme, "  Bank sync  ", priya())
    theme.refresh_from_db()
    assert (theme.name, theme.name_source) == ("Bank sync", NameSource.PERSON)
    assert_recorded(theme.corrections.get(), "rename", priya(), "Theme 4", "Bank sync")


def test_merging_moves_the_items_and_points_the_theme_to_the_one_kept(pm: Client) -> None:
    kept = make_theme("Bank sync", [add_item("a"), add_item("b")])
    gone = make_theme("Chase sync", [add_item("c")])
    earlier = make_theme("Old sync", [])
    earlier.merged_into = gone
    earlier.save()

    merge_themes(gone, kept, priya())

    gone.refresh_from_db()
    kept.refresh_from_db()
    earlier.refresh_from_db()
    assert gone.merged_into == kept and earlier.merged_into == kept
    assert (kept.size, gone.size) == (3, 0)
    assert set(ThemeAssignment.objects.values_list("theme_id", flat=True)) == {kept.pk}
    correction = Correction.objects.get(kind="merge")
    assert correction.target_theme == kept
    assert_recorded(correction, "merge", priya(), "Chase sync", "Bank sync")


def test_an_item_in_both_merged_themes_keeps_one_assignment_a_persons_or_the_nearest(
    pm: Client,
) -> None:
    review, moved, other = add_item("seat and bag"), add_item("moved"), add_item("bag only")
    kept = make_theme("Lost bags", [review, moved])
    gone = make_theme("Missing luggage", [review, moved, other])
    ThemeAssignment.objects.filter(item=review, theme=gone).update(similarity=0.9)
    ThemeAssignment.objects.filter(item=review, theme=kept).update(similarity=0.5)
    ThemeAssignment.objects.filter(item=moved, theme=kept).update(method="person")

    merge_themes(gone, kept, priya())

    rows = ThemeAssignment.objects.order_by("item_id").values_list(
        "item_id", "theme_id", "similarity", "method"
    )
    assert [(i, t, m) for i, t, _, m in rows] == [
        (review.pk, kept.pk, "cluster"),
        (moved.pk, kept.pk, "person"),
        (other.pk, kept.pk, "cluster"),
    ]
    assert rows[0][2] == 0.9  # the nearer of the review's two
    kept.refresh_from_db()
    assert kept.size == 3


def test_a_theme_cannot_be_merged_into_itself_or_into_a_merged_theme(pm: Client) -> None:
    one = make_theme("One", [add_item("a")])
    two = make_theme("Two", [add_item("b")])
    three = make_theme("Three", [add_item("c")])
    with pytest.raises(CorrectionError, match="into itself"):
        merge_themes(one, one, priya())
    merge_themes(two, three, priya())
    with pytest.raises(CorrectionError, match="no longer a theme to merge into"):
        merge_themes(one, two, priya())
    with pytest.raises(CorrectionError, match="already merged"):
        merge_themes(two, one, priya())
    assert Correction.objects.count() == 1


def test_status_changes_are_recorded_and_only_person_statuses_are_allowed(pm: Client) -> None:
    theme = make_theme("Sync", [add_item("a")])
    set_theme_status(theme, ThemeStatus.RESOLVED, priya())
    set_theme_status(theme, ThemeStatus.ACTIVE, priya())
    with pytest.raises(CorrectionError):
        set_theme_status(theme, ThemeStatus.RETIRED, priya())
    with pytest.raises(CorrectionError, match="already"):
        set_theme_status(theme, ThemeStatus.ACTIVE, priya())
    history = [(c.before, c.after) for c in theme.corrections.all()]
    assert history == [("resolved", "active"), ("active", "resolved")]


def test_moving_an_item_records_where_it_came_from_and_went(pm: Client) -> None:
    item = add_item("a")
    source = make_theme("Sync", [item, add_item("b")])
    target = make_theme("Login", [add_item("c")])

    move_item_to_theme(item, target, priya())

    specific = ThemeAssignment.objects.exclude(method=AssignmentMethod.PARENT)
    assignment = specific.get(item=item)
    assert (assignment.theme, assignment.method, assignment.assigned_by) == (
        target,
        AssignmentMethod.PERSON,
        priya(),
    )
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.size, target.size) == (1, 2)
    correction = Correction.objects.get()
    assert (correction.item, correction.theme, correction.target_theme) == (item, source, target)
    assert_recorded(correction, "move", priya(), "Sync", "Login")
    with pytest.raises(CorrectionError, match="already"):
        move_item_to_theme(item, target, priya())


def test_correcting_sentiment_records_before_and_after(pm: Client) -> None:
    item = add_item("It is fine", label="negative")
    correct_item_sentiment(item, "neutral", priya())
    correct_item_sentiment(item, "positive", priya())
    sentiment = ItemSentiment.objects.get(item=item)
    assert (sentiment.label, sentiment.predicted, sentiment.corrected_by) == (
        "positive",
        "negative",
        priya(),
    )
    history = [(c.before, c.after) for c in item.corrections.all()]
    assert history == [("neutral", "positive"), ("negative", "neutral")]


def test_an_item_not_analysed_cannot_get_a_sentiment_and_nothing_is_recorded(pm: Client) -> None:
    item = add_item("fresh")
    with pytest.raises(CorrectionError, match="not been analysed"):
        correct_item_sentiment(item, "neutral", priya())
    assert not Correction.objects.exists()


# --- the views --------------------------------------------------------------------------


def test_a_product_manager_renames_merges_and_closes_themes_from_the_theme_page(
    pm: Client,
) -> None:
    theme = make_theme("Theme 1", [add_item("a")])
    other = make_theme("Login", [add_item("b")])

    renamed = pm.post(reverse("insights:rename_theme", args=[theme.pk]), {"name": "Bank sync"})
    closed = pm.post(reverse("insights:set_theme_status", args=[other.pk]), {"status": "ignored"})
    merged = pm.post(reverse("insights:merge_theme", args=[theme.pk]), {"target": other.pk})

    assert renamed.url == reverse("insights:theme_detail", args=[theme.pk])
    assert message_of(renamed) == "Renamed to “Bank sync”."
    assert message_of(closed) == "Marked ignored."
    assert merged.url == reverse("insights:theme_detail", args=[other.pk])
    assert message_of(merged) == "“Bank sync” merged into “Login”."
    theme.refresh_from_db()
    other.refresh_from_db()
    assert (theme.name, theme.merged_into, other.status, other.size) == (
        "Bank sync",
        other,
        "ignored",
        2,
    )
    assert [c.kind for c in Correction.objects.order_by("id")] == ["rename", "status", "merge"]
    assert set(Correction.objects.values_list("made_by__username", flat=True)) == {"priya"}


def test_invalid_forms_change_nothing_and_say_why(pm: Client) -> None:
    theme = make_theme("Sync", [add_item("a")])
    gone = make_theme("Gone", [], status="retired")

    blank = pm.post(reverse("insights:rename_theme", args=[theme.pk]), {"name": "  "})
    retired = pm.post(reverse("insights:merge_theme", args=[theme.pk]), {"target": gone.pk})
    status = pm.post(reverse("insights:set_theme_status", args=[theme.pk]), {"status": "retired"})
    itself = pm.post(reverse("insights:merge_theme", args=[theme.pk]), {"target": theme.pk})

    assert message_of(blank) == "New name: This field is required."
    for response in (retired, status, itself):
        assert response.status_code == 302
        assert "Select a valid choice" in message_of(response)
    theme.refresh_from_db()
    assert (theme.name, theme.status, theme.merged_into) == ("Sync", "active", None)
    assert not Correction.objects.exists()


def test_a_product_manager_corrects_sentiment_and_moves_an_item_from_its_page(pm: Client) -> None:
    item = add_item("Meh", label="negative")
    make_theme("Praise", [item])
    target = make_theme("Mixed", [add_item("b")])
    item_page = reverse("insights:item_detail", args=[item.pk])

    corrected = pm.post(
        reverse("insights:correct_sentiment", args=[item.pk]), {"sentiment": "neutral"}
    )
    moved = pm.post(reverse("insights:move_item", args=[item.pk]), {"theme": target.pk})
    invalid = pm.post(
        reverse("insights:correct_sentiment", args=[item.pk]), {"sentiment": "furious"}
    )

    assert corrected.url == moved.url == invalid.url == item_page
    assert ItemSentiment.objects.get(item=item).corrected == "neutral"
    assert ThemeAssignment.objects.get(item=item).theme == target
    assert "Select a valid choice" in message_of(invalid)
    assert [c.kind for c in Correction.objects.order_by("id")] == ["sentiment", "move"]


def test_correcting_an_item_not_analysed_shows_why_it_cannot(pm: Client) -> None:
    item = add_item("fresh")
    response = pm.post(
        reverse("insights:correct_sentiment", args=[item.pk]), {"sentiment": "neutral"}
    )
    assert message_of(response) == "This item has not been analysed yet: run the analysis first."
    assert not Correction.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("rename_theme", {"name": "Hacked"}),
        ("merge_theme", {"target": "other"}),
        ("set_theme_status", {"status": "ignored"}),
    ],
)
def test_a_support_lead_may_not_correct_themes(lead: Client, name: str, data: dict) -> None:
    theme = make_theme("Sync", [add_item("a")])
    other = make_theme("Login", [add_item("b")])
    data = {key: other.pk if value == "other" else value for key, value in data.items()}
    assert lead.post(reverse(f"insights:{name}", args=[theme.pk]), data).status_code == 403
    theme.refresh_from_db()
    assert (theme.name, theme.status, theme.merged_into) == ("Sync", "active", None)
    assert not Correction.objects.exists()


def test_a_support_lead_may_not_correct_items(lead: Client) -> None:
    item = add_item("x", label="negative")
    make_theme("A", [item])
    other = make_theme("B", [add_item("y")])
    sentiment = reverse("insights:correct_sentiment", args=[item.pk])
    assert lead.post(sentiment, {"sentiment": "positive"}).status_code == 403
    assert (
        lead.post(reverse("insights:move_item", args=[item.pk]), {"theme": other.pk}).status_code
        == 403
    )
    assert ItemSentiment.objects.get(item=item).corrected == ""
    assert not Correction.objects.exists()


def test_corrections_accept_posts_only_and_need_a_login(pm: Client, client: Client) -> None:
    theme = make_theme("Sync", [add_item("a")])
    url = reverse("insights:rename_theme", args=[theme.pk])
    assert pm.get(url).status_code == 405
    anonymous = client.post(url, {"name": "x"})
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))


def test_correction_forms_need_the_csrf_token(pm: Client) -> None:
    theme = make_theme("Sync", [add_item("a")])
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(priya())
    url = reverse("insights:rename_theme", args=[theme.pk])
    assert checked.post(url, {"name": "No token"}).status_code == 403
    page = checked.get(reverse("insights:theme_detail", args=[theme.pk])).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    theme.refresh_from_db()
    assert theme.name == "Sync"


# --- corrections count everywhere -------------------------------------------------------


def test_a_sentiment_correction_is_reflected_in_the_theme_counts(pm: Client) -> None:
    items = [add_item(f"t{n}", label="negative") for n in range(3)]
    theme = make_theme("Sync", items)
    pm.post(reverse("insights:correct_sentiment", args=[items[0].pk]), {"sentiment": "positive"})

    (row,) = pm.get(reverse("insights:theme_list")).context["rows"]
    detail = pm.get(reverse("insights:theme_detail", args=[theme.pk]), {"sentiment": "positive"})

    assert [(part["label"], part["count"]) for part in row["split"][:3]] == [
        ("negative", 2),
        ("neutral", 0),
        ("positive", 1),
    ]
    assert [item.pk for item in detail.context["page"]] == [items[0].pk]


def test_a_sentiment_correction_trains_the_next_classifier(pm: Client) -> None:
    version = model_version()
    scores = {"negative": [0.8, 0.1, 0.1], "neutral": [0.1, 0.8, 0.1], "positive": [0.1, 0.1, 0.8]}
    texts = {
        "negative": ["The app crashes every time", "Terrible support, no answer", "Broken again"],
        "neutral": ["How do I change my email?", "Is there a tablet app?", "I ordered on Tuesday"],
        "positive": ["I love this app", "Great support, thanks!", "Works perfectly"],
    }
    items = {}
    for label, its_texts in texts.items():
        for text in its_texts:
            items[text] = add_item(text, label=label)
            ItemSentiment.objects.filter(item=items[text]).update(
                prompt_version=SENTIMENT_PROMPT_VERSION,
                llm_scores=dict(
                    zip(("negative", "neutral", "positive"), scores[label], strict=True)
                ),
            )
    source = DataSource.objects.get(name="App Store")
    classifier = fit_sentiment_classifier(version, configured_embedder(), source)
    assert classifier.corrections == 0 and not _refit_is_due(classifier)

    pm.post(
        reverse("insights:correct_sentiment", args=[items["Broken again"].pk]),
        {"sentiment": "neutral"},
    )

    assert _refit_is_due(classifier)
    assert fit_sentiment_classifier(version, configured_embedder(), source).corrections == 1


# --- corrections survive a real re-cluster ----------------------------------------------


@pytest.fixture
def model() -> str:
    load_demo_feedback(
        generate_demo_feedback(seed=3, weeks=3, end=date(2026, 11, 1), items_per_week=120)
    )
    embed_pending(configured_embedder())
    return configured_embedder().name


def members() -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    # Each item's specific themes, not the broad ones it is in through them.
    specific = ThemeAssignment.objects.exclude(method=AssignmentMethod.PARENT)
    for item_id, theme_id in specific.values_list("item_id", "theme_id"):
        found.setdefault(theme_id, set()).add(item_id)
    return found


def test_names_statuses_and_moved_items_survive_reclustering(model: str) -> None:
    recluster(model, seed=1)
    pat = User.objects.create_user("pat")
    biggest, second, third = Theme.objects.leaves().order_by("-size")[:3]
    rename_theme(biggest, "Bank sync", pat)
    set_theme_status(second, ThemeStatus.RESOLVED, pat)
    set_theme_status(third, ThemeStatus.IGNORED, pat)
    item = ThemeAssignment.objects.filter(theme=biggest).first().item
    move_item_to_theme(item, second, pat)

    recluster(model, seed=2)

    for theme in (biggest, second, third):
        theme.refresh_from_db()
    assert (biggest.name, biggest.name_source) == ("Bank sync", NameSource.PERSON)
    assert (second.status, third.status) == (ThemeStatus.RESOLVED, ThemeStatus.IGNORED)
    assert second.size > 1 and third.size > 0
    specific = ThemeAssignment.objects.exclude(method=AssignmentMethod.PARENT)
    assignment = specific.get(item=item)
    assert (assignment.theme, assignment.method, assignment.assigned_by) == (
        second,
        AssignmentMethod.PERSON,
        pat,
    )
    assert Correction.objects.count() == 4


def test_a_merged_theme_stays_merged_and_its_clusters_join_the_theme_it_went_into(
    model: str,
) -> None:
    recluster(model, seed=1)
    themes = list(Theme.objects.leaves().order_by("-size"))
    kept, gone = themes[0], themes[1]
    gone_items = members()[gone.pk]
    merge_themes(gone, kept, User.objects.create_user("pat"))

    result = recluster(model, seed=2)

    gone.refresh_from_db()
    kept.refresh_from_db()
    assert gone.merged_into == kept and gone.status == ThemeStatus.ACTIVE
    assert not ThemeAssignment.objects.filter(theme=gone).exists()
    after = members()
    still_together = len(gone_items & after[kept.pk]) / len(gone_items)
    assert still_together >= 0.9
    # No new theme took the merged theme's place.
    for theme_id, its_items in after.items():
        if theme_id != kept.pk:
            assert len(its_items & gone_items) < 0.2 * len(gone_items)
    assert kept.size == len(after[kept.pk])
    assert result.kept >= 0.7 * result.themes


def test_a_merged_theme_is_not_revived_by_reclustering_with_the_same_seed(model: str) -> None:
    recluster(model, seed=1)
    first = members()
    kept, gone = Theme.objects.leaves().order_by("-size")[:2]
    merge_themes(gone, kept, None)

    result = recluster(model, seed=1)

    assert result.created == 0
    assert members()[kept.pk] == first[kept.pk] | first[gone.pk]
    assert gone.pk not in members()


def test_new_items_near_a_merged_theme_join_the_theme_it_was_merged_into(model: str) -> None:
    recluster(model, seed=1)
    kept, gone = Theme.objects.leaves().order_by("-size")[:2]
    text = ThemeAssignment.objects.filter(theme=gone).order_by("-similarity").first().item.text
    merge_themes(gone, kept, None)
    new = FeedbackItem.objects.create(
        source=DataSource.objects.first(), kind="review", text=text + " Again!", content_hash="new"
    )
    embed_pending(configured_embedder())

    assert assign_new_items(model) == 1

    assert ThemeAssignment.objects.get(item=new).theme == kept


def test_a_closed_theme_that_is_not_found_again_keeps_its_mark(model: str) -> None:
    recluster(model, seed=1)
    far = np.zeros(384, dtype="<f4")
    far[0] = 1.0  # a direction no demo text points to
    resolved = Theme.objects.create(
        name="Fixed long ago", centroid=far.tobytes(), embedding_model=model, status="resolved"
    )
    active = Theme.objects.create(
        name="Faded away", centroid=far.tobytes(), embedding_model=model, size=3
    )

    recluster(model, seed=2)

    resolved.refresh_from_db()
    active.refresh_from_db()
    assert (resolved.status, resolved.size) == (ThemeStatus.RESOLVED, 0)
    assert active.status == ThemeStatus.RETIRED
