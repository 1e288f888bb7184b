import re
from datetime import UTC, datetime, time, timedelta
from itertools import count
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from ingestion.demo.generator import RISING_THEME, THEME_PARAMS, generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from ingestion.models import DataSource, FeedbackItem
from insights.dashboards import overview as dashboard
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import SentimentSplit, ThemeStats
from insights.models import ItemSentiment, ModelVersion, Theme, ThemeAssignment
from tests.factories import make_theme

pytestmark = pytest.mark.django_db
PLOTLY = "vendor/plotly/plotly.min.js"
BOTH = ["App Store", "Help desk"]
# Session, user, 2 for permissions, the sources' rating scales, the chosen source, the source
# menu, sources, the latest items, the 3 grouped daily counts (items by week, source and
# kind; themes; themes in the two weeks compared), the impact on ratings' 3 (the
# sources' scales, the rating sums of the items and of the themes), the segment filter's
# values and the navigation's count of alerts: 17 today.
MAX_QUERIES = 18
_serial = count()


def monday(weeks_ago: int) -> datetime:
    """Noon on the Monday `weeks_ago` weeks before this one (0: this week, still filling)."""
    today = timezone.now().date()
    day = today - timedelta(days=today.weekday(), weeks=weeks_ago)
    return datetime.combine(day, time(12), tzinfo=UTC)


def add_counted_items(
    source: DataSource,
    n: int,
    when: datetime | None,
    *,
    kind: str = "review",
    sentiment: str = "",
    rating: float | None = None,
    theme: Theme | None = None,
) -> list[FeedbackItem]:
    """Make n items; sentiment "" leaves them not analysed, theme None without a theme."""
    items = FeedbackItem.objects.bulk_create(
        FeedbackItem(
            source=source,
            kind=kind,
            text=f"feedback {number}",
            content_hash=f"hash-{number}",
            rating=rating,
            created_at=when,
        )
        for number in (next(_serial) for _ in range(n))
    )
    if sentiment:
        version = ModelVersion.objects.get_or_create(name="model.gguf", sha256="0" * 64)[0]
        ItemSentiment.objects.bulk_create(
            ItemSentiment(item=item, llm_model=version, prompt_version="v", predicted=sentiment)
            for item in items
        )
    if theme:
        ThemeAssignment.objects.bulk_create(
            ThemeAssignment(item=item, theme=theme, method="cluster") for item in items
        )
    rebuild_daily_counts()  # as a run does after writing themes and sentiment
    return items


@pytest.fixture
def support_lead(client: Client) -> Client:
    """The least a person needs to see the overview: the browse-only role."""
    user = User.objects.create_user("sam")
    user.groups.add(Group.objects.get(name=roles.SUPPORT_LEAD))
    client.force_login(user)
    return client


@pytest.fixture
def feedback() -> dict[str, object]:
    """Two sources, a theme whose crash reports jump in the last full week, a steady one,
    and items of this (unfinished) week that growth must not count.

    App Store (reviews, 4★ or 1★): crash 2 → 20 negative, budgets 10 → 10 positive.
    Help desk (tickets, no rating): 3 neutral in the crash theme two weeks ago,
    2 not analysed this week without a theme.
    """
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk", item_kind="ticket")
    crash = make_theme("Receipt crash in 5.2")
    budgets = make_theme("Budgets")
    add_counted_items(store, 2, monday(2), sentiment="negative", rating=1, theme=crash)
    add_counted_items(store, 20, monday(1), sentiment="negative", rating=1, theme=crash)
    add_counted_items(store, 10, monday(2), sentiment="positive", rating=4, theme=budgets)
    add_counted_items(store, 10, monday(1), sentiment="positive", rating=4, theme=budgets)
    add_counted_items(desk, 3, monday(2), kind="ticket", sentiment="neutral", theme=crash)
    add_counted_items(desk, 2, monday(0), kind="ticket")
    return {"store": store, "desk": desk, "crash": crash, "budgets": budgets}


def overview(client: Client, **params: object) -> object:
    response = client.get(reverse("insights:overview"), params)
    assert response.status_code == 200
    return response


def figure(response: object, figure_id: str) -> dict[str, list]:
    """Return {trace name: values} of one of the page's figures (y, or x when horizontal)."""
    (found,) = (f["figure"] for f in response.context["figures"] if f["id"] == figure_id)
    axis = {
        trace["name"]: "x" if trace.get("orientation") == "h" else "y" for trace in found["data"]
    }
    return {trace["name"]: list(trace[axis[trace["name"]]]) for trace in found["data"]}


def categories(response: object, figure_id: str) -> list:
    (found,) = (f["figure"] for f in response.context["figures"] if f["id"] == figure_id)
    return list(found["data"][0]["y"])


def theme_names(response: object, top: str) -> list[str]:
    return [theme.name for theme in response.context["themes"][top]]


def test_the_overview_shows_volume_sentiment_by_source_and_headline_numbers(
    support_lead: Client, feedback: dict
) -> None:
    page = overview(support_lead)
    assert page.context["totals"] == SentimentSplit(total=47, negative=22, neutral=3, positive=20)
    assert page.context["totals"].not_analysed == 2
    assert page.context["totals"].negative_percent == 49  # 22 of 45 analysed
    assert figure(page, "figure-volume") == {
        "negative": [2, 20, 0],
        "neutral": [3, 0, 0],
        "positive": [10, 10, 0],
        "not analysed": [0, 0, 2],
    }
    assert categories(page, "figure-by-source") == ["App Store", "Help desk"]
    assert figure(page, "figure-by-source")["negative"] == [22, 0]
    assert figure(page, "figure-by-source")["neutral"] == [0, 3]
    assert categories(page, "figure-themes") == ["Receipt crash in 5.2", "Budgets"]
    assert figure(page, "figure-themes")["negative"] == [22, 0]
    assert [(k["label"], k["count"]) for k in page.context["kinds"]] == [
        ("Review", 42),
        ("Support ticket", 5),
    ]
    html = page.content.decode()
    assert re.search(r'id="stat-items"><span class="figure">47<', html)
    assert re.search(r'id="stat-not-analysed"><span class="figure">2<', html)


def test_an_item_in_two_themes_counts_in_each_theme_and_once_in_every_total(
    support_lead: Client, feedback: dict
) -> None:
    crash = Theme.objects.get(name="Receipt crash in 5.2")
    ThemeAssignment.objects.bulk_create(
        ThemeAssignment(item=item, theme=crash, method="cluster")
        for item in FeedbackItem.objects.filter(theme_assignments__theme__name="Budgets")
    )
    rebuild_daily_counts()
    page = overview(support_lead)
    assert page.context["totals"] == SentimentSplit(total=47, negative=22, neutral=3, positive=20)
    assert figure(page, "figure-volume")["positive"] == [10, 10, 0]
    assert figure(page, "figure-by-source")["positive"] == [20, 0]
    assert figure(page, "figure-themes")["positive"] == [20, 20]


def test_undated_items_count_everywhere_but_the_weekly_chart_which_says_so(
    support_lead: Client, feedback: dict
) -> None:
    add_counted_items(feedback["store"], 3, None, sentiment="negative", theme=feedback["crash"])
    page = overview(support_lead)
    assert page.context["totals"] == SentimentSplit(total=50, negative=25, neutral=3, positive=20)
    assert figure(page, "figure-volume")["negative"] == [2, 20, 0]
    assert figure(page, "figure-themes")["negative"] == [25, 0]
    assert page.context["view"].undated == 3
    assert "3 items have no date and are not in this chart." in page.content.decode()


@pytest.mark.parametrize(
    ("params", "total", "by_source", "volume_negative", "themes"),
    [
        ({"source": "desk"}, 5, ["Help desk"], [0, 0], ["Receipt crash in 5.2"]),
        ({"kind": "ticket"}, 5, ["Help desk"], [0, 0], ["Receipt crash in 5.2"]),
        ({"sentiment": "positive"}, 20, ["App Store"], [0, 0], ["Budgets"]),
        ({"rating": "1"}, 22, ["App Store"], [2, 20], ["Receipt crash in 5.2"]),
        ({"rating": "none"}, 5, ["Help desk"], [0, 0], ["Receipt crash in 5.2"]),
        ({"start": 1}, 32, BOTH, [20, 0], ["Receipt crash in 5.2", "Budgets"]),
        ({"end": 2}, 15, BOTH, [2], ["Budgets", "Receipt crash in 5.2"]),
    ],
)
def test_each_filter_applies_to_every_figure_and_list(
    support_lead: Client,
    feedback: dict,
    params: dict,
    total: int,
    by_source: list[str],
    volume_negative: list[int],
    themes: list[str],
) -> None:
    page = overview(support_lead, **resolve(params, feedback))

    assert page.context["totals"].total == total
    assert sum(kind["count"] for kind in page.context["kinds"]) == total
    assert [row["total"] for row in page.context["sources"]] == [
        page.context["view"].by_source.get(feedback[key].pk, SentimentSplit(0, 0, 0, 0)).total
        for key in ("store", "desk")
    ]
    assert categories(page, "figure-by-source") == by_source
    assert figure(page, "figure-volume")["negative"] == volume_negative
    assert theme_names(page, "by_volume") == themes
    assert len(page.context["latest"]) == min(total, 10)


def resolve(params: dict, feedback: dict) -> dict[str, str]:
    """Turn test parameters into URL values: a fixture key into its id, "start": n into the
    Monday n weeks ago and "end": n into the Sunday after it."""
    query = {}
    for name, value in params.items():
        if name in ("start", "end"):
            day = monday(value).date() + timedelta(days=6 if name == "end" else 0)
            query[name] = day.isoformat()
        else:
            query[name] = str(feedback[value].pk) if value in feedback else value
    return query


def test_a_theme_that_jumps_in_the_last_full_week_is_flagged_rising_and_a_steady_one_is_not(
    support_lead: Client, feedback: dict
) -> None:
    sync = make_theme("Bank sync")  # grows by half, but 4 → 6 is within chance
    add_counted_items(feedback["store"], 4, monday(2), sentiment="negative", theme=sync)
    add_counted_items(feedback["store"], 6, monday(1), sentiment="negative", theme=sync)
    page = overview(support_lead)
    assert page.context["view"].latest_week == monday(1).date()
    themes = {theme.name: theme for theme in page.context["view"].themes}
    crash, budgets = themes["Receipt crash in 5.2"], themes["Budgets"]
    assert (crash.previous_week, crash.latest_week, crash.growth_percent) == (5, 20, 300)
    assert crash.is_rising
    assert (budgets.previous_week, budgets.latest_week, budgets.growth) == (10, 10, 0)
    assert not budgets.is_rising
    assert not themes["Bank sync"].is_rising
    # Rising first; Budgets did not grow at all.
    assert theme_names(page, "by_growth") == ["Receipt crash in 5.2", "Bank sync"]
    html = page.content.decode()
    assert html.count('class="badge rising-flag"') == 1
    assert re.search(r"Receipt crash in 5\.2</a> <span class=\"badge rising-flag\">rising", html)


def test_the_growth_compares_the_weeks_the_filters_leave(
    support_lead: Client, feedback: dict
) -> None:
    """Without the tickets the crash grew 2 → 20; a view that starts last week or ends two
    weeks ago has no earlier week to compare with."""
    only_reviews = overview(support_lead, kind="review")
    (crash,) = [
        t for t in only_reviews.context["themes"]["by_growth"] if t.id == feedback["crash"].pk
    ]
    assert (crash.previous_week, crash.latest_week) == (2, 20)
    for params in ({"start": 1}, {"end": 2}):
        page = overview(support_lead, **resolve(params, feedback))
        assert page.context["view"].latest_week is None
        assert page.context["themes"]["by_growth"] == []
        assert "No two full weeks of feedback in view to compare" in page.content.decode()


@pytest.mark.parametrize(
    ("previous", "latest", "rising"),
    [
        (32, 56, True),  # the demo's receipt crash in 5.2
        (16, 24, False),  # +50 %, but a steady theme's weekly noise
        (0, 12, True),  # new this week
        (2, 4, False),  # doubled, but too few items to tell
        (1000, 1200, False),  # beyond chance, but only +20 %
        (10, 10, False),
        (12, 6, False),
    ],
)
def test_the_rising_rule(previous: int, latest: int, rising: bool) -> None:
    theme = ThemeStats(1, "theme", "active", SentimentSplit(0, 0, 0, 0), latest, previous)
    assert theme.is_rising is rising


def test_the_most_negative_themes_leave_out_tiny_ones(support_lead: Client, feedback: dict) -> None:
    tiny = make_theme("One angry post")
    add_counted_items(
        feedback["store"],
        dashboard.NEGATIVE_SHARE_MIN_ITEMS - 1,
        monday(1),
        sentiment="negative",
        theme=tiny,
    )
    page = overview(support_lead)
    shares = [
        (t.name, t.split.negative_percent) for t in page.context["themes"]["by_negative_share"]
    ]
    assert shares == [("Receipt crash in 5.2", 88), ("Budgets", 0)]
    assert "One angry post" in theme_names(page, "by_volume")


def test_retired_and_merged_themes_are_left_out(support_lead: Client, feedback: dict) -> None:
    retired = make_theme("Old sync bug", status="retired")
    merged = make_theme("Scanner crash", merged_into=feedback["crash"])
    add_counted_items(feedback["store"], 30, monday(1), sentiment="negative", theme=retired)
    add_counted_items(feedback["store"], 30, monday(1), sentiment="negative", theme=merged)
    resolved = make_theme("Fixed export", status="resolved")
    add_counted_items(feedback["store"], 1, monday(1), theme=resolved)
    page = overview(support_lead)
    assert theme_names(page, "by_volume") == ["Receipt crash in 5.2", "Budgets", "Fixed export"]
    assert page.context["totals"].total == 47 + 61  # their items still count as feedback


def test_links_keep_the_filters(support_lead: Client, feedback: dict) -> None:
    query = {"source": feedback["store"].pk, "sentiment": "negative"}
    html = overview(support_lead, **query).content.decode()
    crash = reverse("insights:theme_detail", args=[feedback["crash"].pk])
    kept = f"source={feedback['store'].pk}&amp;sentiment=negative"
    assert f'href="{crash}?{kept}"' in html
    assert f'href="{reverse("insights:item_list")}?{kept}"' in html
    ticket_link = f"source={feedback['store'].pk}&amp;sentiment=negative&amp;kind=review"
    assert f'href="{reverse("insights:item_list")}?{ticket_link}"' in html
    desk_link = f"source={feedback['desk'].pk}&amp;sentiment=negative"
    assert f'href="{reverse("insights:item_list")}?{desk_link}"' in html
    assert f'<option value="{feedback["store"].pk}" selected>' in html


@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday", "source": "999999", "kind": "letter", "rating": "9"},
        {"sentiment": "angry", "end": "2026-13-45"},
        {"source": "'; drop table", "rating": "<script>"},
    ],
)
def test_invalid_filter_values_show_the_whole_view_and_say_why(
    support_lead: Client, feedback: dict, params: dict
) -> None:
    page = overview(support_lead, **params)
    assert page.context["totals"].total == 47
    assert page.context["filter_query"] == ""
    assert 'class="error"' in page.content.decode()
    assert "<script>" not in page.content.decode()


def test_a_start_after_the_end_says_so(support_lead: Client, feedback: dict) -> None:
    page = overview(support_lead, start="2026-11-20", end="2026-11-01")
    assert "The start date is after the end date." in page.content.decode()


def test_the_number_of_queries_does_not_grow_with_the_feedback(
    support_lead: Client, feedback: dict, django_assert_max_num_queries: object
) -> None:
    filters = {"source": feedback["store"].pk, "kind": "review", "rating": "1"}
    with django_assert_max_num_queries(MAX_QUERIES):  # type: ignore[operator]
        overview(support_lead, **filters)
    for number in range(8):
        theme = make_theme(f"Theme {number}")
        add_counted_items(
            feedback["store"], 5, monday(number % 3), sentiment="negative", rating=1, theme=theme
        )
    DataSource.objects.create(name="Reddit")
    with django_assert_max_num_queries(MAX_QUERIES):  # type: ignore[operator]
        overview(support_lead, **filters)


def test_the_page_draws_its_figures_with_plotly_from_this_server(
    support_lead: Client, feedback: dict
) -> None:
    html = overview(support_lead).content.decode()
    for figure_id in ("figure-volume", "figure-by-source", "figure-themes"):
        assert f'<div data-figure="{figure_id}"></div>' in html
        assert f'<script id="{figure_id}" type="application/json">' in html
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    assert scripts == [static(PLOTLY), static("js/charts.js")]
    assert all(src.startswith("/static/") for src in scripts)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert not re.search(r"<script(?![^>]*(src=|application/json))", html)  # nothing inline


def test_the_packaged_plotly_js_is_served_from_static(client: Client) -> None:
    response = client.get(static(PLOTLY))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = b"".join(response.streaming_content)
    assert b"plotly.js" in body[:500]
    assert len(body) > 1_000_000


def test_collectstatic_puts_the_packaged_plotly_js_under_static_root(
    tmp_path: Path, settings: object
) -> None:
    settings.STATIC_ROOT = tmp_path / "static"  # type: ignore[attr-defined]
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    collected = tmp_path / "static" / PLOTLY
    assert collected.is_file()
    assert collected.read_bytes() == Path(finders.find(PLOTLY)).read_bytes()


def test_on_the_demo_data_only_the_receipt_crash_in_5_2_is_rising() -> None:
    """Themes as the demo's ground truth draws them: the analysis should find about these."""
    load_demo_feedback(generate_demo_feedback())
    themes = {key: make_theme(key) for key in THEME_PARAMS}
    version = ModelVersion.objects.create(name="model.gguf", sha256="0" * 64)
    items = list(FeedbackItem.objects.values_list("pk", "metadata"))
    ThemeAssignment.objects.bulk_create(
        ThemeAssignment(item_id=pk, theme=themes[meta["demo_theme"]], method="cluster")
        for pk, meta in items
    )
    ItemSentiment.objects.bulk_create(
        ItemSentiment(item_id=pk, llm_model=version, predicted=meta["demo_sentiment"])
        for pk, meta in items
    )
    rebuild_daily_counts()  # as a run does after writing themes and sentiment

    view = dashboard.build_overview(FeedbackFilters({}))

    assert [theme.name for theme in view.themes if theme.is_rising] == [RISING_THEME]
    (crash,) = dashboard.top_by_growth(view.themes, limit=1)
    assert (crash.name, crash.previous_week, crash.latest_week) == (RISING_THEME, 32, 56)
