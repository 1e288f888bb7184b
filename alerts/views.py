"""The alerts page, and the count of the week's alerts in the navigation."""

from datetime import timedelta

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from alerts.models import Alert, AlertKind
from feedlens.access import role_required
from ingestion.models import FeedbackItem

ALERTS_PER_PAGE = 50
# The navigation counts the alerts raised in this while.
RECENT = timedelta(days=7)


@role_required("alerts.view_alert")
def alert_list(request: HttpRequest) -> HttpResponse:
    """Every alert, the latest week first, with the items behind each; ?kind= narrows."""
    alerts = Alert.objects.select_related("theme", "source")
    kind = request.GET.get("kind", "")
    if kind in AlertKind.values:
        alerts = alerts.filter(kind=kind)
    page = Paginator(alerts, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    shown = {pk for alert in page for pk in alert.item_ids}
    items = FeedbackItem.objects.only("id", "text", "created_at").in_bulk(shown)
    rows = [(alert, [items[pk] for pk in alert.item_ids if pk in items]) for alert in page]
    context = {"page": page, "rows": rows, "kinds": AlertKind.choices, "kind": kind}
    return render(request, "alerts/alert_list.html", context)


def recent_alerts(request: HttpRequest) -> dict[str, int]:
    """Template context: how many alerts were raised in the last RECENT, for people who may
    see them (the navigation's count); no query for anyone else."""
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("alerts.view_alert"):
        return {}
    return {"recent_alerts": Alert.objects.filter(raised_at__gte=timezone.now() - RECENT).count()}
