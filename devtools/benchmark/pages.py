"""Server time of the dashboard pages, through Django's test client as a superuser."""

import statistics
import time
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from alerts.detection import detect_full_weeks
from ingestion.models import FeedbackItem
from insights.dashboards.filters import SEGMENT_SEPARATOR
from insights.models import DailySegmentCount, Theme
from insights.views.pages import ITEMS_PER_PAGE, cursor_of

REQUESTS_PER_PAGE = 5
BENCH_USER = "bench-admin"


class PageError(RuntimeError):
    """A dashboard page did not answer 200."""


def superuser_client() -> Client:
    """Return a client logged in as the benchmark's superuser (created when missing)."""
    user = User.objects.filter(username=BENCH_USER).first()
    if user is None:
        user = User.objects.create_superuser(BENCH_USER, email="", password=None)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def time_page(client: Client, path: str, requests: int = REQUESTS_PER_PAGE) -> float:
    """Return the median seconds of `requests` GETs of path; raise PageError unless 200."""
    seconds = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise PageError(f"GET {path} answered {response.status_code}.")
    return statistics.median(seconds)


def dashboard_paths() -> list[str]:
    """Return the path of every dashboard page, those of one theme and one item included
    (the first of each, found now: ids differ from run to run)."""
    overview = reverse("insights:overview")
    paths = [
        overview,
        # A filter that keeps about a third of the items: the aggregates still cover many.
        f"{overview}?sentiment=negative",
        reverse("insights:theme_list"),
        reverse("insights:item_list"),
        f"{reverse('insights:search')}?q=the+app+crashes+when+I+pay",
        reverse("insights:copy_list"),
        reverse("insights:analysis"),
    ]
    paths.append(_last_item_page())
    segment = DailySegmentCount.objects.order_by("field", "value").first()
    if segment is not None:  # a segment's counts are rows of their own: the other path
        chosen = f"{segment.field}{SEGMENT_SEPARATOR}{segment.value}"
        paths.append(f"{overview}?{urlencode({'segment': chosen})}")
    theme_id = Theme.objects.order_by("pk").values_list("pk", flat=True).first()
    if theme_id is not None:
        paths.append(reverse("insights:theme_detail", args=[theme_id]))
    item_id = FeedbackItem.objects.order_by("pk").values_list("pk", flat=True).first()
    if item_id is not None:
        paths.append(reverse("insights:item_detail", args=[item_id]))
    return paths


def _last_item_page() -> str:
    """The item list's last page, as its links reach it: from where the page before ends."""
    count = FeedbackItem.objects.count()
    last = max(1, -(-count // ITEMS_PER_PAGE))
    url = reverse("insights:item_list")
    if last == 1:
        return url
    before_it = FeedbackItem.objects.all()[(last - 1) * ITEMS_PER_PAGE - 1]
    return f"{url}?{urlencode({'page': last, 'after': cursor_of(before_it)})}"


def time_dashboard() -> dict[str, float]:
    """Return the median server seconds of each dashboard page."""
    client = superuser_client()
    return {path: time_page(client, path) for path in dashboard_paths()}


def time_alert_detection() -> tuple[float, int]:
    """Seconds to test the last full week for alerts (alerts.detection, as each run does),
    and how many it raised."""
    began = time.perf_counter()
    raised = detect_full_weeks(weeks=1)
    return time.perf_counter() - began, len(raised)
