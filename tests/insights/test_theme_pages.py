"""The theme list and the theme page: counts within the filters, summary, quotes, all items."""

import hashlib
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from accounts import roles
from ingestion.models import DataSource, FeedbackItem
from insights.curation.corrections import merge_themes, rename_theme
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.models import ItemSentiment, ModelVersion, Theme
from insights.pipeline.describing.cards import CardItem, FieldBaseline, build_card
from insights.pipeline.themes.keywords import Phrase
from tests.factories import add_items, make_theme

pytestmark = pytest.mark.django_db


def person(username: str, role: str) -> Client:
    """Return a client signed in as a new person with the role."""
    user = User.objects.create_user(username, password="x")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pm() -> Client:
    return person("priya", roles.PRODUCT_MANAGER)


@pytest.fixture
def lead() -> Client:
    return person("sam", roles.SUPPORT_LEAD)


def model_version() -> ModelVersion:
    return ModelVersion.objects.get_or_create(name="qwen.gguf", sha256="ab12cd34" + "0" * 56)[0]


def add_item(
    text: str,
    day: int = 1,
    source: str = "App Store",
    kind: str = "review",
    label: str = "",
    rating: float | None = None,
) -> FeedbackItem:
    """Make an item written on that day of November 2026, predicted `label` if given."""
    item = FeedbackItem.objects.create(
        source=DataSource.objects.get_or_create(name=source)[0],
        kind=kind,
        text=text,
        rating=rating,
        content_hash=hashlib.sha256(f"{text}|{day}|{source}".encode()).hexdigest(),
        created_at=datetime(2026, 11, day, 12, tzinfo=UTC),
    )
    if rating is not None:  # as every store of items does (ingestion.importers.store_items)
        DataSource.objects.widen_rating_range(item.source_id, [rating])
    if label:
        ItemSentiment.objects.create(
            item=item,
            llm_model=model_version(),
            prompt_version="sentiment-3",
            predicted=label,
            confidence=0.8,
            probabilities={label: 0.8},
        )
    rebuild_daily_counts()  # as the product does with what it writes
    return item


def test_the_theme_list_shows_size_share_and_sentiment_split(lead: Client) -> None:
    crashes = make_theme(
        "Receipt scanning crashes",
        [add_item(f"Scanning crash {n}", label="negative") for n in range(3)]
        + [add_item("Scanning works again", label="positive")],
        keywords=["receipt", "scan", "crash"],
    )
    small = make_theme("Dark mode", [add_item("Please add dark mode", label="neutral")])
    add_item("An item in no theme")
    ItemSentiment.objects.filter(item__text="Scanning crash 0").update(corrected="neutral")
    rebuild_daily_counts()

    page = lead.get(reverse("insights:theme_list"))

    rows = page.context["rows"]
    assert [row["theme"].pk for row in rows] == [crashes.pk, small.pk]
    first = rows[0]
    assert (first["count"], first["percent"]) == (4, 66.7)
    assert [(part["label"], part["count"]) for part in first["split"]] == [
        ("negative", 2),
        ("neutral", 1),
        ("positive", 1),
        ("unscored", 0),
    ]
    html = page.content.decode()
    assert "receipt · scan · crash" in html
    assert reverse("insights:theme_detail", args=[crashes.pk]) in html


def test_the_theme_list_counts_only_the_items_that_match_the_filters(lead: Client) -> None:
    make_theme(
        "Sync",
        [add_item("Sync broke", 2, label="negative"), add_item("Sync ok", 20, label="positive")],
    )
    make_theme("Login", [add_item("Cannot log in", 3, source="Help desk", kind="ticket")])

    early = lead.get(reverse("insights:theme_list"), {"end": "2026-11-10"}).context["rows"]
    assert [(row["theme"].name, row["count"], row["percent"]) for row in early] == [
        ("Sync", 1, 50.0),
        ("Login", 1, 50.0),
    ]
    negative = lead.get(reverse("insights:theme_list"), {"sentiment": "negative"})
    assert [(row["theme"].name, row["count"]) for row in negative.context["rows"]] == [("Sync", 1)]
    assert negative.context["total"] == 1


def test_resolved_and_ignored_themes_are_listed_only_on_request(lead: Client) -> None:
    make_theme("Open", [add_item("open")])
    make_theme("Fixed", [add_item("fixed")], status="resolved")
    make_theme("Noise", [add_item("noise")], status="ignored")
    make_theme("Gone", [], status="retired")
    merged = make_theme("Merged away", [])
    merged.merged_into = Theme.objects.get(name="Open")
    merged.save()

    default = lead.get(reverse("insights:theme_list"))
    everything = lead.get(reverse("insights:theme_list"), {"closed": "1"})

    assert [row["theme"].name for row in default.context["rows"]] == ["Open"]
    assert sorted(row["theme"].name for row in everything.context["rows"]) == [
        "Fixed",
        "Noise",
        "Open",
    ]
    assert "Resolved" in everything.content.decode()


def test_the_theme_list_takes_the_same_few_queries_for_many_themes(
    lead: Client, django_assert_max_num_queries: object
) -> None:
    for n in range(30):
        make_theme(
            f"Theme {n}", [add_item(f"text {n}-{k}", k + 1, label="negative") for k in range(3)]
        )
    # 9, the segment filter's values and the navigation's count of alerts.
    with django_assert_max_num_queries(11):  # type: ignore[operator]
        page = lead.get(reverse("insights:theme_list"), {"sentiment": "negative", "kind": "review"})
    assert len(page.context["rows"]) == 30


def test_an_item_in_two_themes_counts_in_each_and_shares_are_of_the_items(lead: Client) -> None:
    seat_and_bag, bag, _late = add_items("Comfy seat, lost bag", "Lost bag", "Late flight")
    make_theme("Bags", [seat_and_bag, bag])
    make_theme("Seats", [seat_and_bag])
    rows = {
        row["theme"].name: row for row in lead.get(reverse("insights:theme_list")).context["rows"]
    }
    assert (rows["Bags"]["count"], rows["Bags"]["percent"]) == (2, 66.7)
    assert (rows["Seats"]["count"], rows["Seats"]["percent"]) == (1, 33.3)


def test_the_theme_page_shows_the_summary_with_cited_quotes_and_representatives(
    lead: Client,
) -> None:
    items = [add_item(f"The app crashes on receipt {n}", n + 1, label="negative") for n in range(3)]
    theme = make_theme(
        "Receipt crashes",
        items,
        keywords=["receipt", "crash"],
        pain_summary=[{"text": "Scanning a receipt crashes the app.", "item_ids": [items[1].pk]}],
        summary_kind="generated",
        summary_model=model_version(),
        representative_item_ids=[items[2].pk, items[0].pk],
    )

    page = lead.get(reverse("insights:theme_detail", args=[theme.pk]))

    assert [s["items"] for s in page.context["summary"]] == [[items[1]]]
    assert [quote["item"] for quote in page.context["quotes"]] == [items[2], items[0]]
    assert [quote["text"] for quote in page.context["quotes"]] == [items[2].text, items[0].text]
    html = page.content.decode()
    assert "Scanning a receipt crashes the app." in html
    cite = f'href="{reverse("insights:item_detail", args=[items[1].pk])}"'
    assert f'<a class="cite" {cite}' in html
    assert "quotes, not a card" not in html
    assert (page.context["count"], page.context["percent"]) == (3, 100.0)


def test_an_extractive_summary_is_marked_with_its_note(lead: Client) -> None:
    item = add_item("Receipts crash", label="negative")
    theme = make_theme(
        "Receipts",
        [item],
        pain_summary=[{"text": "Receipts crash", "item_ids": [item.pk]}],
        summary_kind="extractive",
        summary_note="The generated summary was not used: sentence 1 cites no quote.",
    )
    html = lead.get(reverse("insights:theme_detail", args=[theme.pk])).content.decode()
    assert "quotes, not a card" in html
    assert "sentence 1 cites no quote" in html


def test_the_theme_page_shows_the_card_with_marked_quotes(lead: Client) -> None:
    items = add_items("The resend button does nothing", "Resend button is grey")
    card = build_card(
        [CardItem(i.pk, i.text, "", None, {}) for i in items],
        [Phrase("resend button", 1.0, 2)],
        "Codes",
        FieldBaseline.of([]),
        None,
    )
    theme = make_theme("Codes", items, labels=["negative", "negative"], card=card)
    html = lead.get(reverse("insights:theme_detail", args=[theme.pk])).content.decode()
    assert "2 customers (100% of this theme&#x27;s negative feedback) say “resend button”" in html
    assert "<mark>resend button</mark>" in html and "<mark>Resend button</mark>" in html
    assert "quotes, not a card" not in html


def test_the_theme_page_lists_every_item_fifty_a_page_keeping_the_filters(lead: Client) -> None:
    items = [add_item(f"Item {n}", 1 + n % 28, label="negative") for n in range(120)]
    items += [add_item(f"Happy {n}", 2, label="positive") for n in range(5)]
    theme = make_theme("Big", items)
    url = reverse("insights:theme_detail", args=[theme.pk])

    first = lead.get(url, {"sentiment": "negative"})
    last = lead.get(url, {"sentiment": "negative", "page": 3})

    assert first.context["page"].paginator.count == 120
    assert len(first.context["page"]) == 50 and len(last.context["page"]) == 20
    # Nearest the centre first: the order they were put in.
    assert list(first.context["page"])[:2] == items[:2]
    assert 'href="?sentiment=negative&amp;page=2"' in first.content.decode()
    seen = {
        item.pk
        for n in (1, 2, 3)
        for item in lead.get(url, {"sentiment": "negative", "page": n}).context["page"]
    }
    assert seen == {item.pk for item in items[:120]}


def test_the_theme_page_counts_and_charts_the_filtered_items_by_week(lead: Client) -> None:
    theme = make_theme(
        "Sync",
        [
            add_item("a", 2, label="negative"),
            add_item("b", 3, label="negative", source="Help desk"),
            add_item("c", 10, label="positive"),
        ],
    )
    add_item("outside the theme", 10)

    page = lead.get(
        reverse("insights:theme_detail", args=[theme.pk]),
        {"source": DataSource.objects.get(name="App Store").pk},
    )

    assert (page.context["count"], page.context["percent"]) == (2, 66.7)
    (figure,) = page.context["figures"]
    assert figure["id"] == "theme-weekly"
    bars = {trace["name"]: trace["y"] for trace in figure["figure"]["data"]}
    assert bars["negative"] == [1, 0] and bars["positive"] == [0, 1]
    assert '<div data-figure="theme-weekly"></div>' in page.content.decode()
    assert "no date" not in page.content.decode()


def test_the_theme_page_says_how_many_of_its_items_have_no_date(lead: Client) -> None:
    undated = add_item("no date", label="negative")
    FeedbackItem.objects.filter(pk=undated.pk).update(created_at=None)
    theme = make_theme("Sync", [add_item("a", 2, label="negative"), undated])

    page = lead.get(reverse("insights:theme_detail", args=[theme.pk]))

    assert page.context["count"] == 2
    assert "1 item has no date and is not in this chart." in page.content.decode()


def test_a_merged_theme_says_where_it_went_and_shows_no_forms(pm: Client) -> None:
    kept = make_theme("Bank sync", [add_item("sync fails")])
    gone = make_theme("Chase sync", [add_item("chase fails")])
    merge_themes(gone, kept, User.objects.get(username="priya"))

    page = pm.get(reverse("insights:theme_detail", args=[gone.pk]))
    target = pm.get(reverse("insights:theme_detail", args=[kept.pk]))

    html = page.content.decode()
    link = reverse("insights:theme_detail", args=[kept.pk])
    assert f'merged into <a href="{link}">Bank sync</a>' in html
    assert "rename_form" not in page.context and page.context["count"] == 0
    assert target.context["count"] == 2
    assert "Chase sync" in target.content.decode()  # listed as merged into it, and in history


def test_a_person_who_named_a_theme_is_shown(pm: Client) -> None:
    theme = make_theme("Theme 3", [add_item("x")])
    rename_theme(theme, "Receipt crashes", User.objects.get(username="priya"))
    html = pm.get(reverse("insights:theme_detail", args=[theme.pk])).content.decode()
    assert "named by priya on" in html
    assert "Theme 3 → Receipt crashes" in html


def test_only_people_who_may_edit_themes_see_the_correction_forms(pm: Client, lead: Client) -> None:
    theme = make_theme("Sync", [add_item("x")])
    make_theme("Login", [add_item("y")])
    url = reverse("insights:theme_detail", args=[theme.pk])

    for_pm = pm.get(url)
    for_lead = lead.get(url)

    assert reverse("insights:rename_theme", args=[theme.pk]) in for_pm.content.decode()
    assert [t.name for t in for_pm.context["merge_form"].fields["target"].queryset] == ["Login"]
    html = for_lead.content.decode()
    for name in ("rename_theme", "merge_theme", "set_theme_status"):
        assert reverse(f"insights:{name}", args=[theme.pk]) not in html


def test_the_theme_page_takes_a_bounded_number_of_queries(
    lead: Client, django_assert_max_num_queries: object
) -> None:
    items = [add_item(f"t {n}", 1 + n % 20, label="negative") for n in range(80)]
    theme = make_theme(
        "Many",
        items,
        pain_summary=[{"text": f"s {n}", "item_ids": [items[n].pk]} for n in range(5)],
        representative_item_ids=[item.pk for item in items[:5]],
    )
    # 16, 3 for the impact on ratings (the sources' scales, the view's and the theme's
    # rating sums), the segment filter's values and the theme's segments against all (2).
    with django_assert_max_num_queries(22):  # type: ignore[operator]
        page = lead.get(
            reverse("insights:theme_detail", args=[theme.pk]), {"sentiment": "negative"}
        )
    assert len(page.context["page"]) == 50


def test_an_unknown_theme_is_not_found(lead: Client) -> None:
    assert lead.get(reverse("insights:theme_detail", args=[999])).status_code == 404
