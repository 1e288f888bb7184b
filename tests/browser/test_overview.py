"""The overview in a real browser: log in, charts drawn, nothing from elsewhere, filters."""

import json

from django.contrib.auth.models import User
from selenium.webdriver.support.ui import Select

from ingestion.models import FeedbackItem
from insights.models import Theme
from tests.browser.conftest import Browser, sign_in


def figure_data(browser: Browser) -> dict[str, object]:
    """Return each chart's figure JSON as the page embeds it, by chart id."""
    ids = [e.get_attribute("data-figure") for e in browser.find_all("[data-figure]")]
    return {
        i: json.loads(browser.driver.find_element("id", i).get_attribute("textContent"))
        for i in ids
    }


def items_in_view(browser: Browser) -> int:
    return int(browser.find("#stat-items .figure").text.replace(",", ""))


def test_logging_in_opens_the_overview_with_every_chart_drawn_and_nothing_from_elsewhere(
    browser: Browser, analysed: None, pm_user: User
) -> None:
    browser.open("/")
    assert browser.path().startswith("/accounts/login/?next=/")
    browser.screenshot("login-form")

    sign_in(browser, pm_user)

    assert browser.path() == "/"
    assert browser.wait_until_charts_are_drawn() == 3
    assert browser.find_all("[data-figure] .main-svg"), "plotly drew no SVG"
    browser.screenshot("overview")
    assert browser.console_errors() == []
    assert browser.foreign_requests() == []
    assert items_in_view(browser) == FeedbackItem.objects.count()


def test_a_source_filter_goes_into_the_url_and_changes_the_numbers(
    browser: Browser, analysed: None, pm_user: User
) -> None:
    sign_in(browser, pm_user)
    browser.wait_until_charts_are_drawn()
    everything, charts_before = items_in_view(browser), figure_data(browser)

    source = Select(browser.find("form.filters select[name=source]"))
    source.select_by_visible_text("Support tickets")
    value = source.first_selected_option.get_attribute("value")
    browser.find("form.filters button[type=submit]").click()
    browser.wait(lambda d: f"source={value}" in d.current_url, message="filter not in the URL")
    browser.wait_until_charts_are_drawn()
    browser.screenshot("overview-filtered-by-source")

    tickets = FeedbackItem.objects.filter(source__name="Support tickets").count()
    assert 0 < items_in_view(browser) == tickets < everything
    assert figure_data(browser) != charts_before
    assert browser.console_errors() == []
    # The URL is the view: opened afresh, it shows the same filtered numbers.
    browser.open(browser.path())
    assert items_in_view(browser) == tickets


def test_a_theme_opens_from_the_overview_with_its_trend_drawn(
    browser: Browser, analysed: None, support_user: User
) -> None:
    sign_in(browser, support_user)
    browser.wait_until_charts_are_drawn()
    link = browser.find("#themes-by-volume tbody a")
    name = link.text
    link.click()

    browser.wait(lambda d: "/themes/" in d.current_url, message="the theme did not open")
    assert browser.find("h1").text == name
    assert browser.wait_until_charts_are_drawn() >= 1
    browser.screenshot("theme")
    theme = Theme.objects.get(name=name)
    assert browser.path() == f"/themes/{theme.pk}/"
    assert int(browser.find("#theme-size").text.replace(",", "")) == theme.assignments.count()
    assert browser.console_errors() == []
    assert browser.foreign_requests() == []


def test_a_theme_name_with_markup_is_drawn_as_its_text_not_as_a_link(
    browser: Browser, analysed: None, pm_user: User
) -> None:
    sign_in(browser, pm_user)
    browser.wait_until_charts_are_drawn()
    largest = browser.find("#themes-by-volume tbody a").text
    name = '<a href="https://attacker.example/">Click me</a>'
    Theme.objects.filter(name=largest).update(name=name)

    browser.open("/")
    browser.wait_until_charts_are_drawn()
    browser.screenshot("overview-theme-name-with-markup")
    assert name in [tick.text for tick in browser.find_all("[data-figure] .ytick text")]
    assert browser.find_all("[data-figure] svg a") == []
    assert browser.console_errors() == []
