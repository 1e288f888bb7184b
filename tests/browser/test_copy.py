"""Generated copy in a real browser: pick a theme and a kind, watch the draft being written by
the real worker and local model, and see it appear without a reload."""

import pytest
from django.contrib.auth.models import User

from insights.models import CopyDraft
from tests.browser.conftest import Browser, sign_in

pytestmark = pytest.mark.services

# The worker loads the local model, then writes one part per theme on the CPU.
DRAFT_TIMEOUT_S = 300


def test_a_copy_draft_is_written_with_live_progress_and_appears_without_a_reload(
    browser: Browser, analysed: None, pm_user: User, celery_worker: str
) -> None:
    sign_in(browser, pm_user)
    browser.open("/copy/")
    theme = browser.find("#new-copy input[name=themes]")
    theme.click()
    theme_id = int(theme.get_attribute("value"))
    browser.find("#new-copy input[name=kind][value=changelog]").click()
    browser.screenshot("copy-form")
    browser.find("#new-copy button[type=submit]").click()

    browser.wait(lambda d: d.find_elements("id", "copy-draft"), message="no draft page")
    draft = CopyDraft.objects.get()
    assert browser.path() == f"/copy/{draft.pk}/"
    assert not browser.find("#copy-progress").get_attribute("hidden")
    browser.screenshot("copy-in-progress")
    # A mark on this page's window: a reload would lose it.
    browser.driver.execute_script("window.feedlensSamePage = true")
    browser.wait(
        lambda d: browser.find("#copy-draft").get_attribute("data-status") in ("done", "failed"),
        DRAFT_TIMEOUT_S,
        "the draft was not written in time",
    )
    browser.screenshot("copy-written")

    assert browser.driver.execute_script("return window.feedlensSamePage") is True
    draft.refresh_from_db()
    assert (draft.status, draft.error) == ("done", "")
    assert [t.pk for t in draft.themes.all()] == [theme_id]
    assert draft.created_by == pm_user
    editor = browser.find("#copy-editor textarea")
    assert editor.is_displayed()
    assert editor.get_attribute("value") == draft.text != ""
    assert browser.find("#copy-progress").get_attribute("hidden")
    assert browser.console_errors() == []
