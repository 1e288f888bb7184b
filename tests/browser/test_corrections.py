"""A product manager corrects an item's sentiment on its page, in a real browser."""

from django.contrib.auth.models import User

from insights.models import Correction, ItemSentiment
from tests.browser.conftest import Browser, sign_in


def test_a_product_manager_corrects_an_items_sentiment_and_sees_it_saved(
    browser: Browser, analysed: None, pm_user: User
) -> None:
    sentiment = ItemSentiment.objects.filter(predicted="negative").order_by("item_id").first()
    assert sentiment is not None
    sign_in(browser, pm_user)
    browser.open(f"/feedback/{sentiment.item_id}/")
    assert "Predicted Negative" in browser.find("#item-sentiment").text
    browser.screenshot("item-before")

    browser.find("#correct-sentiment input[name=sentiment][value=positive]").click()
    browser.find("#correct-sentiment button[type=submit]").click()
    browser.wait(
        lambda d: "corrected by pm" in browser.find("#item-sentiment").text,
        message="the page does not show the correction",
    )
    browser.screenshot("item-corrected")

    assert browser.path() == f"/feedback/{sentiment.item_id}/"
    sentiment.refresh_from_db()
    assert (sentiment.corrected, sentiment.corrected_by, sentiment.predicted) == (
        "positive",
        pm_user,
        "negative",
    )
    correction = Correction.objects.get(item_id=sentiment.item_id)
    assert (correction.kind, correction.before, correction.after) == (
        "sentiment",
        "negative",
        "positive",
    )
    assert correction.made_by == pm_user
    assert "pm" in browser.find("table.history").text
    assert browser.console_errors() == []
