"""Semantic search in a real browser: hits by meaning, each with its theme and sentiment."""

from django.contrib.auth.models import User

from tests.browser.conftest import MODEL_TIMEOUT_S, Browser, sign_in


def test_semantic_search_shows_hits_with_their_theme_and_sentiment(
    browser: Browser, analysed: None, support_user: User
) -> None:
    sign_in(browser, support_user)
    browser.open("/search/")
    box = browser.find("form.search-box input[name=q]")
    # Words the demo's bank-sync feedback does not use: the hits come by meaning.
    box.send_keys("my bank transactions are not showing up in the app")
    browser.find("form.search-box button[type=submit]").click()
    browser.wait_for(".search-hits li .similarity", MODEL_TIMEOUT_S)
    browser.screenshot("search-hits")

    assert "q=my+bank+transactions" in browser.driver.current_url
    hits = browser.find_all(".search-hits > li")
    assert len(hits) == 20
    top = [hit.text.lower() for hit in hits[:5]]
    assert sum("sync" in text or "bank" in text for text in top) >= 3, top
    themed = [hit for hit in hits if hit.find_elements("css selector", "a[href^='/themes/']")]
    assert len(themed) >= len(hits) // 2
    for hit in hits:
        # Items clustering left out of every theme say so.
        assert hit in themed or " · no theme · " in hit.text, hit.text
        assert hit.find_elements("css selector", ".negative, .neutral, .positive"), hit.text
    similarities = [float(e.text) for e in browser.find_all(".search-hits .similarity")]
    assert similarities == sorted(similarities, reverse=True)
    assert browser.console_errors() == []
    assert browser.foreign_requests() == []
