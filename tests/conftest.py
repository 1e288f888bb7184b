"""Shared fixtures: people, data files, and a real Celery worker on the real Redis broker.

Set FEEDLENS_REQUIRE_SERVICES=1 (CI does) to make tests that need Redis, the worker or the
shared datasets fail, not skip, when those are missing.
"""

import functools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client

from accounts import roles
from feedlens.celery import app as celery_app

REQUIRE_SERVICES = os.environ.get("FEEDLENS_REQUIRE_SERVICES", "") not in ("", "0", "false")
WORKER_START_TIMEOUT_S = 90


def missing_service(reason: str) -> None:
    """Fail where services are required, skip elsewhere."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (FEEDLENS_REQUIRE_SERVICES is set)")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what each test needs: `services` where it uses the session's Celery worker,
    `database` where it may touch the database (pytest-django refuses every other test a
    connection). CI's SQLite pass runs `-m "database and not services"`: the rest does the
    same whatever the database, and ran on PostgreSQL."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "celery_worker" in fixtures:
            item.add_marker(pytest.mark.services)
        if item.get_closest_marker("django_db") or "django_db_setup" in fixtures:
            item.add_marker(pytest.mark.database)


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: object) -> Path:
    """Each test writes uploads under its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def search_index_dir(tmp_path: Path, settings: object) -> Path:
    """Each test's search index files (insights.pipeline.search_index) under its own folder:
    a file left by one test would answer another's searches."""
    settings.FEEDLENS_SEARCH_INDEX_DIR = tmp_path / "search-index"  # type: ignore[attr-defined]
    return tmp_path / "search-index"


@pytest.fixture
def datasets_dir() -> Path:
    path = Path(settings.FEEDLENS_DATASETS_DIR)
    if not path.is_dir():
        missing_service(f"the shared datasets are not at {path} (set FEEDLENS_DATASETS_DIR)")
    return path


@pytest.fixture
def importer(db: None) -> User:
    """A product person allowed to import files."""
    user = User.objects.create_user("pat", password="pat-password-1")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="ingestion", codename__in=["add_importjob", "view_importjob"]
        ),
        # Every page is for people with a role: browsing is what every role can do.
        Permission.objects.get(content_type__app_label="insights", codename="view_theme"),
    )
    return user


@pytest.fixture
def importer_client(importer: User) -> Client:
    client = Client()
    client.force_login(importer)
    return client


@functools.cache
def _password_hash(username: str) -> str:
    # Hashing is slow on purpose (about a second here); each persona's is made once a session.
    return make_password(f"{username}-password-1")


def make_person(username: str, role: str | None = None) -> User:
    """Return a user with the password f"{username}-password-1", in the role's group if given."""
    user = User.objects.create(username=username, password=_password_hash(username))
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


# The personas of issue 5: one person per role, and one signed in without a role. The admin
# is not staff, so the dashboards are shown to reach everything by the role alone.
@pytest.fixture
def admin_user(db: None) -> User:
    return make_person("admin", roles.ADMIN)


@pytest.fixture
def pm_user(db: None) -> User:
    return make_person("pm", roles.PRODUCT_MANAGER)


@pytest.fixture
def support_user(db: None) -> User:
    return make_person("support", roles.SUPPORT_LEAD)


@pytest.fixture
def no_role_user(db: None) -> User:
    return make_person("norole")


def _database_url() -> str:
    """Return the URL of the test database, for a worker in another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(
    queue: str,
    log_path: Path,
    answer_first: bool = True,
    name: str = "",
    **extra_env: str,
) -> subprocess.Popen[bytes]:
    """Start a real Celery worker process on the Redis broker, reading only `queue`, named
    name (by default after the queue), and return it once it answers a ping (at once when
    answer_first is False: a solo worker that picks up a waiting task straight away answers
    nothing until the task is done)."""
    name = name or f"{queue}@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_DEFAULT_QUEUE": queue,
        "CELERY_ML_QUEUE": queue,
        "SECRET_KEY": settings.SECRET_KEY,
        "FEEDLENS_EAGER_TASKS": "false",
        # The connector tests' servers listen on 127.0.0.1 (tests/ingestion/conftest.py).
        "FEEDLENS_CONNECTOR_ALLOWED_HOSTS": "127.0.0.1",
        **extra_env,
    }
    command = [sys.executable, "-m", "celery", "-A", "feedlens", "worker", "--pool=solo"]
    command += ["-Q", queue, "-n", name, "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    with log_path.open("a") as log:
        worker = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )
    if answer_first:
        _wait_for_worker(name, worker, log_path)
    return worker


def route_tasks_to(queue: str) -> None:
    """Send every task, the model work included, to one test queue."""
    _route(queue, {"insights.*": {"queue": queue}})


@contextmanager
def tasks_routed_to(queue: str) -> Iterator[None]:
    """Send every task to queue while inside; put the routes back and empty it after."""
    before = (celery_app.conf.task_default_queue, celery_app.conf.task_routes)
    route_tasks_to(queue)
    try:
        yield
    finally:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)
        _route(*before)


@pytest.fixture
def unread_queue() -> Iterator[str]:
    """Send every task to a queue of this test's own that no worker reads; yield its name.
    The queue is emptied and the routes put back afterwards."""
    require_redis()
    queue = f"feedlens-unread-{uuid.uuid4().hex[:8]}"
    with tasks_routed_to(queue):
        yield queue


def _route(default_queue: str, routes: object) -> None:
    celery_app.conf.task_default_queue = default_queue
    celery_app.conf.task_routes = routes
    # Celery keeps its router and default queue from first use: without this, tasks kept
    # going to the queue of the first worker a session started.
    amqp = celery_app.amqp
    amqp.flush_routes()
    for cached in ("router", "default_queue", "queues"):
        amqp.__dict__.pop(cached, None)


@pytest.fixture
def broker_down() -> Iterator[str]:
    """Point Celery at a port where no broker listens, as when Redis is down; yield its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    _use_broker(url)
    try:
        yield url
    finally:
        _use_broker(settings.CELERY_BROKER_URL)


def _use_broker(url: str) -> None:
    # Celery keeps its connection and producer pools from first use: drop them, so that the
    # next send connects to url.
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def require_redis() -> None:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        missing_service(f"Redis is not reachable at {settings.REDIS_URL}")


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Celery worker for the whole session, on a queue of its own."""
    require_redis()
    queue = f"feedlens-test-{uuid.uuid4().hex[:8]}"
    route_tasks_to(queue)
    worker = start_worker(queue, tmp_path_factory.mktemp("worker") / "worker.log")
    try:
        yield queue
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _wait_for_worker(name: str, worker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the Celery worker exited:\n{log_path.read_text()[-3000:]}")
        if celery_app.control.ping(destination=[name], timeout=1):
            return
    pytest.fail(f"the Celery worker did not answer in time:\n{log_path.read_text()[-3000:]}")


T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout_s: float = 120, message: str = "") -> T:
    """Poll condition() until it is true; return what it gave; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    pytest.fail(message or "timed out waiting for a condition")
