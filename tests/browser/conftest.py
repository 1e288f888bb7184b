"""Headless Debian Chromium driving the product as served in production, on analysed data.

The browser is /usr/bin/chromium through /usr/bin/chromedriver, both from Debian packages
(.ci/run installs them): Selenium Manager is told to stay offline and is never asked for
anything, since both paths are given. Screenshots of each step go to $FEEDLENS_TEST_ARTIFACTS
(default var/test-artifacts/screenshots/).
"""

import os
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.db import connections, transaction
from django.test.testcases import LiveServerThread
from django.test.utils import modify_settings
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from insights.models import AnalysisRun
from insights.pipeline.run import run_analysis
from tests.conftest import missing_service

# Selenium Manager would fetch a browser or driver it cannot find: it must never try.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_ARGUMENTS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--window-size=1400,1000",
)
# Waits are explicit; these are their upper bounds, not sleeps.
PAGE_TIMEOUT_S = 30
# A page that embeds a query or loads a model on first use takes longer on a busy CPU.
MODEL_TIMEOUT_S = 120
# The seed: the three demo sources over three weeks, analysed once a session by the real
# pipeline. On two busy CPU cores 160 items took 184 s (sentiment 72 s, themes 40 s,
# describing 56 s) and these 90 take 52-98 s, still enough for clustering to find themes.
SEED_WEEKS = 3
SEED_ITEMS_PER_WEEK = 30
SEED_END = date(2026, 11, 1)


def _artifacts_dir() -> Path:
    default = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "screenshots"
    return Path(os.environ.get("FEEDLENS_TEST_ARTIFACTS") or default)


class FeedlensServer:
    """The product in a server thread, as in production: WhiteNoise serves the collected
    static files (pytest-django's live_server serves them from the finders, which do not know
    the hashed names that the manifest storage writes into pages)."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        # An in-memory SQLite database must be shared with the server thread; a file is not.
        shared = {
            conn.alias: conn
            for conn in connections.all()
            if conn.vendor == "sqlite" and conn.is_in_memory_db()
        }
        self._allowed_host = modify_settings(ALLOWED_HOSTS={"append": self.host})
        self._allowed_host.enable()
        self.thread = LiveServerThread(self.host, lambda app: app, connections_override=shared)
        self.thread.daemon = True
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            raise self.thread.error

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.thread.port}"

    def stop(self) -> None:
        self.thread.terminate()
        self._allowed_host.disable()


def _require_collected_static() -> None:
    try:
        staticfiles_storage.url("js/charts.js")
    except ValueError:
        pytest.fail(f"run `manage.py collectstatic` first: no manifest in {settings.STATIC_ROOT}")


@pytest.fixture(scope="session", autouse=True)
def chromium_installed() -> None:
    """Checked before anything else, so that a missing browser skips before the seed runs."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        missing_service(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"
        )


@pytest.fixture(scope="session")
def feedlens_server(django_db_setup: None) -> Iterator[FeedlensServer]:
    _require_collected_static()
    server = FeedlensServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def analysed_data(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Run the real pipeline once on demo feedback and keep the result as a fixture file;
    each test loads it into its own (flushed) database."""
    path = tmp_path_factory.mktemp("seed") / "analysed.json"
    records = generate_demo_feedback(
        seed=11, weeks=SEED_WEEKS, end=SEED_END, items_per_week=SEED_ITEMS_PER_WEEK
    )
    with django_db_blocker.unblock(), transaction.atomic():  # type: ignore[attr-defined]
        load_demo_feedback(records)
        run = run_analysis(AnalysisRun.objects.create().pk)
        assert run.status == "done", run.error
        call_command("dumpdata", "ingestion", "insights", output=str(path), verbosity=0)
        # The seed leaves nothing behind: the tests load the file into a clean database.
        transaction.set_rollback(True)
    return path


@pytest.fixture
def server(feedlens_server: FeedlensServer, transactional_db: None) -> FeedlensServer:
    """The server, over a database that is emptied after the test (the server thread sees
    only committed rows)."""
    return feedlens_server


@pytest.fixture
def analysed(server: FeedlensServer, analysed_data: Path) -> None:
    call_command("loaddata", str(analysed_data), verbosity=0)


# Chromium 156 reports an element of a page being replaced (after a form's redirect, say)
# not always as stale but as an inspector error with this message.
DETACHED_NODE = "Node with given id does not belong to the document"


def is_replaced_element(error: WebDriverException) -> bool:
    """Whether the error says the element belonged to a page that is being replaced."""
    return isinstance(error, StaleElementReferenceException) or DETACHED_NODE in (error.msg or "")


class Browser:
    """A Chromium session on the server, saving a screenshot at each named step."""

    def __init__(self, driver: webdriver.Chrome, base_url: str, screenshots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots
        self.steps = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def wait(
        self, condition: object, timeout_s: float = PAGE_TIMEOUT_S, message: str = ""
    ) -> object:
        def looked_up_again_if_replaced(driver: webdriver.Chrome) -> object:
            try:
                return condition(driver)  # type: ignore[operator]
            except WebDriverException as error:
                if is_replaced_element(error):
                    return False  # look again, as for a missing element
                raise

        wait = WebDriverWait(self.driver, timeout_s)
        return wait.until(looked_up_again_if_replaced, message)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, css: str, timeout_s: float = PAGE_TIMEOUT_S) -> WebElement:
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, css), timeout_s, f"no {css}")
        return self.find(css)

    def path(self) -> str:
        return self.driver.execute_script("return location.pathname + location.search")

    def screenshot(self, step: str) -> Path:
        self.steps += 1
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{self.steps:02d}-{step}.png"
        self.driver.save_screenshot(str(path))
        return path

    def console_errors(self) -> list[str]:
        """Return the SEVERE console entries since the last call (reading clears them)."""
        entries = self.driver.get_log("browser")
        return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]

    def foreign_requests(self) -> list[str]:
        """Return every resource this page loaded from another origin."""
        names = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat(performance.getEntriesByType('navigation').map(e => e.name))"
        )
        return [name for name in names if not name.startswith(self.base_url + "/")]

    def log_in(self, username: str, password: str) -> None:
        self.open("/accounts/login/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.find("form button[type=submit]").click()
        self.wait(lambda d: "/accounts/login/" not in d.current_url, message="login failed")

    def wait_until_charts_are_drawn(self) -> int:
        """Wait until plotly has drawn every chart on the page; return how many there are."""
        script = (
            "const f = [...document.querySelectorAll('[data-figure]')];"
            "return f.every(e => e.dataset.drawn === 'true') ? f.length : null;"
        )
        self.wait(lambda d: d.execute_script(script) is not None, message="charts not drawn")
        return self.driver.execute_script(script)


def _chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """Keep each test's outcome, so that the browser fixture can photograph a failure."""
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


@pytest.fixture
def browser(server: FeedlensServer, request: pytest.FixtureRequest) -> Iterator[Browser]:
    driver = _chromium()
    screenshots = _artifacts_dir() / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(screenshots, ignore_errors=True)  # no pictures left from an earlier run
    session = Browser(driver, server.url, screenshots)
    try:
        yield session
        report = request.node.stash.get(CALL_REPORT, None)
        if report is not None and report.failed:
            session.screenshot("failed")
    finally:
        driver.quit()


def sign_in(browser: Browser, user: User) -> None:
    """Log in through the login form with the persona's password (see make_person)."""
    browser.log_in(user.username, f"{user.username}-password-1")
