"""Server time of the dashboard pages, through Django's test client as a superuser."""

import statistics
import time

from django.contrib.auth.models import User
from django.test import Client

DASHBOARD_PATHS = ("/", "/feedback/", "/themes/", "/analysis/")
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


def time_dashboard() -> dict[str, float]:
    """Return the median server seconds of each dashboard page."""
    client = superuser_client()
    return {path: time_page(client, path) for path in DASHBOARD_PATHS}
