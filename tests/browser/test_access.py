"""A signed-in person without a role sees the message, and no data, in a real browser."""

from django.contrib.auth.models import User

from tests.browser.conftest import Browser, sign_in


def test_a_person_without_a_role_sees_only_the_no_role_message(
    browser: Browser, analysed: None, no_role_user: User
) -> None:
    sign_in(browser, no_role_user)
    for path in ("/", "/themes/", "/search/?q=sync"):
        browser.open(path)
        assert browser.find("h1").text == "You have no role in Feedlens yet"
        assert not browser.find_all("[data-figure]")
        assert not browser.find_all("main a")
    browser.screenshot("no-role")
    assert browser.find_all(".topbar nav a") == []
