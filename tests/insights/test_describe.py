import uuid

import numpy as np
import pytest
from django.contrib.auth.models import User

from ingestion.models import DataSource, FeedbackItem
from insights.curation.corrections import rename_theme
from insights.local_models import configured_llm, model_version
from insights.models import (
    AssignmentMethod,
    ItemSentiment,
    ModelVersion,
    NameSource,
    SummaryKind,
    Theme,
    ThemeAssignment,
)
from insights.pipeline.describing import describe
from insights.pipeline.describing.describe import describe_themes, is_due
from insights.pipeline.describing.naming import (
    NAME_PROMPT_VERSION,
    check_name,
    keyword_name,
    name_theme,
)
from insights.pipeline.describing.quotes import theme_quotes
from insights.pipeline.describing.summaries import (
    SUMMARY_PROMPT_VERSION,
    DraftSentence,
    check_summary,
    extractive_summary,
    parse_summary,
    summarise_pain_points,
    support_similarities,
)
from insights.pipeline.themes.keywords import theme_keywords
from llm.embeddings import Embedder, load_embedder
from llm.generation import LocalLLM

pytestmark = pytest.mark.django_db

LOGIN_TEXTS = [
    "I can't log in because the 2FA code never arrives by SMS.",
    "The verification code expires before it reaches my phone, so I'm locked out.",
    "My account got locked after 3 login attempts even though the password is correct.",
    "Every time I open the app it logs me out and asks for a new 2FA code. Please fix.",
    "Face ID login stopped working and now it wants a password I never set.",
]
SYNC_TEXTS = [
    "My Chase account hasn't synced for three days, so my balances are wrong.",
    "Bank sync keeps failing with Wells Fargo, it says connection error every time.",
    "Transactions from Citi show up a week late or not at all. Please fix the app.",
    "I had to re-link my bank account 4 times this month because the connection drops.",
    "Sync pulled in duplicate transactions from my bank, so my spending looks doubled.",
]
LOGIN_KEYWORDS = ["2fa", "code", "locked", "login", "password"]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder("")


@pytest.fixture(scope="module")
def llm() -> LocalLLM:
    return configured_llm()


def embedded_theme(
    name: str, texts: list[str], negative: int, embedder: Embedder, **fields: object
) -> Theme:
    """A theme of one item per text, the first `negative` of them negative, the rest
    positive; the centre is the mean of the texts' real embeddings."""
    source, _ = DataSource.objects.get_or_create(name="App Store")
    vectors = embedder.embed(texts)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre)
    theme = Theme.objects.create(
        name=name,
        centroid=centre.astype("<f4").tobytes(),
        embedding_model=embedder.name,
        size=len(texts),
        **fields,
    )
    version = model_version(configured_llm())
    for position, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        item = FeedbackItem.objects.create(
            source=source, kind="review", text=text, content_hash=uuid.uuid4().hex
        )
        ThemeAssignment.objects.create(
            item=item,
            theme=theme,
            similarity=float(vector @ centre),
            method=AssignmentMethod.CLUSTER,
        )
        ItemSentiment.objects.create(
            item=item,
            llm_model=version,
            prompt_version="test",
            predicted="negative" if position < negative else "positive",
        )
    return theme


def item_ids_of(theme: Theme) -> set[int]:
    return set(theme.assignments.values_list("item_id", flat=True))


# --- Keywords


def test_keywords_tell_a_login_theme_from_a_sync_theme() -> None:
    keywords = theme_keywords({1: LOGIN_TEXTS, 2: SYNC_TEXTS}, top_n=6)
    login, sync = set(keywords[1]), set(keywords[2])
    assert not login & sync
    assert {"2fa", "code"} <= login
    assert {"sync", "bank"} & sync
    # "please" and "app" occur in both themes: they describe neither.
    assert not {"please", "app", "fix"} & (login | sync)


def test_a_theme_without_texts_gets_no_keywords() -> None:
    assert theme_keywords({1: LOGIN_TEXTS, 2: []})[2] == []


def test_a_keyword_name_joins_the_top_keywords_without_repeating_words() -> None:
    assert keyword_name(["sync", "bank", "bank sync", "connection"]) == "sync · bank · connection"
    assert keyword_name(["sync", "bank", "error", "late"], taken={"sync · bank · error"}) == (
        "sync · bank · error · late"
    )


# --- Names


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("Login codes login codes login codes", "repeats"),
        ("Login login", "repeats"),
        ("Two factor codes not arriving by text message at all today", "too long"),
        ("Sync failures", "another theme"),
        ("Dinner", "not about the keywords"),
        ("I can't log in", "first person"),
        ("Card payments declined at checkout", "neither keywords nor quotes"),
    ],
)
def test_a_bad_name_is_refused(embedder: Embedder, name: str, reason: str) -> None:
    quotes = list(enumerate(LOGIN_TEXTS))
    problem = check_name(name, LOGIN_KEYWORDS, quotes, {"sync failures"}, embedder)
    assert reason in problem


def test_a_name_copied_from_a_quote_is_refused(embedder: Embedder) -> None:
    quotes = [(1, "The verification code expires before it reaches my phone")]
    assert "copies a quote" in check_name(
        "The verification code expires before it", LOGIN_KEYWORDS, quotes, (), embedder
    )


@pytest.mark.parametrize("name", ["2FA code problems", "Locked out after login", "Sign-in codes"])
def test_a_short_on_topic_name_is_accepted(embedder: Embedder, name: str) -> None:
    quotes = list(enumerate(LOGIN_TEXTS))
    assert check_name(name, LOGIN_KEYWORDS, quotes, {"Bank sync"}, embedder) == ""


def test_the_model_names_a_theme_or_the_keywords_do(llm: LocalLLM, embedder: Embedder) -> None:
    quotes = list(enumerate(LOGIN_TEXTS))
    name, source, prompt = name_theme(LOGIN_KEYWORDS, quotes, llm, taken=(), embedder=embedder)
    assert prompt.endswith("Name:") and LOGIN_TEXTS[0] in prompt
    if source == NameSource.LLM:
        assert check_name(name, LOGIN_KEYWORDS, quotes, (), embedder) == ""
    else:
        assert name == keyword_name(LOGIN_KEYWORDS)


def test_a_name_already_taken_falls_back_to_keywords(llm: LocalLLM, embedder: Embedder) -> None:
    quotes = list(enumerate(LOGIN_TEXTS))
    first = name_theme(LOGIN_KEYWORDS, quotes, llm, embedder=embedder).name
    again, source, _ = name_theme(LOGIN_KEYWORDS, quotes, llm, taken={first}, embedder=embedder)
    # Greedy decoding gives the same answer again: it is taken now, so keywords name it.
    assert source == NameSource.KEYWORDS
    assert again == keyword_name(LOGIN_KEYWORDS, {first})
    assert again.casefold() != first.casefold()


# --- Summaries

QUOTES = [(101, LOGIN_TEXTS[0]), (102, LOGIN_TEXTS[1]), (103, LOGIN_TEXTS[2])]


def test_a_supported_summary_passes_the_checks(embedder: Embedder) -> None:
    drafts = parse_summary(
        "- [1, 2] Users report that 2FA codes arrive late or never, which locks them out.\n"
        "- [3] Users report accounts locked after 3 login attempts with the correct password."
    )
    assert drafts[0] == DraftSentence(
        "Users report that 2FA codes arrive late or never, which locks them out.", (1, 2)
    )
    assert check_summary(drafts, QUOTES, embedder) == ""


@pytest.mark.parametrize(
    ("summary", "reason"),
    [
        ("- [1] Users report that bank transactions are imported twice.", "does not match"),
        ("- [3] Users report accounts locked after 7 login attempts.", "mentions 7"),
        ("- [1] Users report that SMS codes from Verizon never arrive.", "mentions Verizon"),
        ("- Users report that 2FA codes never arrive by SMS.", "cites no quote"),
        ("- [9] Users report that 2FA codes never arrive by SMS.", "not given"),
        ("- [1] I can't log in because the code never arrives.", "first person"),
        (
            "- [1] Users report 2FA codes never arrive.\n"
            "- [1] Users report 2FA codes never arrive.",
            "repeats a sentence",
        ),
        ("- [1] Users report codes codes codes codes codes codes.", "repeats itself"),
    ],
)
def test_an_unsupported_summary_is_refused(embedder: Embedder, summary: str, reason: str) -> None:
    assert reason in check_summary(parse_summary(summary), QUOTES, embedder)


def test_support_is_the_cosine_to_the_nearest_cited_quote(embedder: Embedder) -> None:
    matching, unrelated = support_similarities(
        parse_summary(
            "- [2, 3] Users report that verification codes expire before they arrive.\n"
            "- [1] Users report that the budget screen is cluttered."
        ),
        QUOTES,
        embedder,
    )
    assert matching > 0.6
    assert unrelated < 0.3


def test_the_extractive_fallback_cites_each_quote_and_says_why() -> None:
    summary = extractive_summary([*QUOTES, (104, "A fourth one.")], "The generated one failed.")
    assert summary.kind == SummaryKind.EXTRACTIVE
    assert [sentence["item_ids"] for sentence in summary.sentences] == [[101], [102], [103]]
    assert summary.sentences[0]["text"] == LOGIN_TEXTS[0]
    assert summary.note == "The generated one failed."


def test_the_model_summary_is_grounded_or_marked_as_a_fallback(
    llm: LocalLLM, embedder: Embedder
) -> None:
    summary = summarise_pain_points(QUOTES, "Login problems", llm, embedder)
    cited = {item_id for sentence in summary.sentences for item_id in sentence["item_ids"]}
    assert summary.sentences
    assert cited <= {item_id for item_id, _ in QUOTES}
    if summary.kind == SummaryKind.GENERATED:
        assert summary.note == ""
        assert check_summary(parse_summary(summary.generated_text), QUOTES, embedder) == ""
    else:
        assert summary.kind == SummaryKind.EXTRACTIVE
        assert summary.note.startswith("The generated summary was not used: ")
        assert [sentence["item_ids"] for sentence in summary.sentences] == [[101], [102], [103]]


# --- Stored themes


def test_representative_items_are_nearest_the_centre_with_distinct_texts(
    embedder: Embedder,
) -> None:
    theme = embedded_theme("Login", [*LOGIN_TEXTS, LOGIN_TEXTS[0].upper()], 0, embedder)
    quotes = theme_quotes(theme, 10)
    assert len(quotes) == len(LOGIN_TEXTS)
    assert {text.lower() for _, text in quotes} == {text.lower() for text in LOGIN_TEXTS}
    centre = theme.centroid_array()
    nearness = [float(embedder.embed([text])[0] @ centre) for _, text in quotes]
    assert nearness == sorted(nearness, reverse=True)


def test_describing_themes_names_summarises_and_records_the_model(
    llm: LocalLLM, embedder: Embedder
) -> None:
    login = embedded_theme("theme 1", LOGIN_TEXTS, 3, embedder)
    sync = embedded_theme("theme 2", SYNC_TEXTS, 0, embedder)
    progress: list[tuple[int, int]] = []
    described = describe_themes(
        [login.pk, sync.pk], llm, embedder, on_progress=lambda *p: progress.append(p)
    )
    assert described == 2
    login.refresh_from_db()
    sync.refresh_from_db()
    assert progress == [(1, 2), (2, 2)]
    assert "2fa" in login.keywords
    assert login.name != sync.name
    assert login.name_source in (NameSource.LLM, NameSource.KEYWORDS)
    assert login.name_model == model_version(configured_llm())
    assert login.name_prompt_version == NAME_PROMPT_VERSION
    assert login.summary_prompt_version == SUMMARY_PROMPT_VERSION
    # The prompts sent are recorded as sent: the name's, and one per summary line.
    assert login.name_prompt.endswith("Name:")
    assert any(text[:40] in login.name_prompt for text in LOGIN_TEXTS)
    assert login.summary_prompt.count("Statement:") >= 1
    assert login.summary_prompt.rstrip().endswith("Statement:")
    assert (login.described_size, sync.described_size) == (5, 5)
    assert set(login.representative_item_ids) <= item_ids_of(login)
    assert login.summary_kind in (SummaryKind.GENERATED, SummaryKind.EXTRACTIVE)
    negative = set(
        login.assignments.filter(item__sentiment__predicted="negative").values_list(
            "item_id", flat=True
        )
    )
    cited = {item_id for sentence in login.pain_summary for item_id in sentence["item_ids"]}
    assert cited and cited <= negative
    # No negative items: no summary, and no model recorded for one.
    assert (sync.summary_kind, sync.pain_summary, sync.summary_model) == (
        SummaryKind.NONE,
        [],
        None,
    )


def test_a_name_a_person_gave_is_never_replaced(llm: LocalLLM, embedder: Embedder) -> None:
    theme = embedded_theme(
        "Our login mess", LOGIN_TEXTS, 2, embedder, name_source=NameSource.PERSON
    )
    embedded_theme("theme 2", SYNC_TEXTS, 0, embedder)
    assert describe_themes([theme.pk], llm, embedder, force=True) == 1
    theme.refresh_from_db()
    assert (theme.name, theme.name_source) == ("Our login mess", NameSource.PERSON)
    assert theme.keywords and theme.described_at is not None


def test_a_described_theme_is_due_again_only_after_it_changed(
    llm: LocalLLM, embedder: Embedder
) -> None:
    theme = embedded_theme("theme 1", LOGIN_TEXTS, 0, embedder)
    embedded_theme("theme 2", SYNC_TEXTS, 0, embedder)
    version = model_version(llm)
    assert describe_themes([theme.pk], llm, embedder) == 1
    theme.refresh_from_db()
    described_at = theme.described_at
    assert describe_themes([theme.pk], llm, embedder) == 0
    theme.size = 6  # +20%: not yet
    assert not is_due(theme, version)
    theme.size = 7
    assert is_due(theme, version)
    assert describe_themes([theme.pk], llm, embedder, force=True) == 1
    theme.refresh_from_db()
    assert theme.described_at > described_at


def test_a_theme_is_due_again_under_another_model(llm: LocalLLM, embedder: Embedder) -> None:
    theme = embedded_theme("theme 1", LOGIN_TEXTS, 2, embedder)
    embedded_theme("theme 2", SYNC_TEXTS, 0, embedder)
    assert describe_themes([theme.pk], llm, embedder) == 1
    theme.refresh_from_db()
    other = ModelVersion.objects.create(name="other.gguf", sha256="1" * 64)
    assert not is_due(theme, model_version(llm))
    assert is_due(theme, other)


def test_a_changed_prompt_version_describes_themes_again_and_keeps_a_persons_name(
    llm: LocalLLM, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = embedded_theme("theme 1", LOGIN_TEXTS, 3, embedder)
    sync = embedded_theme("theme 2", SYNC_TEXTS, 0, embedder)
    assert describe_themes([login.pk, sync.pk], llm, embedder) == 2
    login.refresh_from_db()
    rename_theme(login, "Our login mess", User.objects.create_user("priya"))
    assert describe_themes([login.pk, sync.pk], llm, embedder) == 0  # nothing changed

    # A new naming prompt: the theme the model named is named again; the renamed one is not
    # due, its name being a person's.
    monkeypatch.setattr(describe, "NAME_PROMPT_VERSION", "name-test-2")
    assert describe_themes([login.pk, sync.pk], llm, embedder) == 1
    sync.refresh_from_db()
    assert sync.name_prompt_version == "name-test-2"
    assert sync.name_source in (NameSource.LLM, NameSource.KEYWORDS)

    # A new summary prompt: both are described again, and the person's name stays.
    login.refresh_from_db()
    summarised_at = login.described_at
    monkeypatch.setattr(describe, "SUMMARY_PROMPT_VERSION", "summary-test-2")
    assert describe_themes([login.pk, sync.pk], llm, embedder) == 2
    login.refresh_from_db()
    assert (login.name, login.name_source) == ("Our login mess", NameSource.PERSON)
    assert login.summary_prompt_version == "summary-test-2"
    assert login.described_at > summarised_at
    assert login.summary_kind in (SummaryKind.GENERATED, SummaryKind.EXTRACTIVE)
    assert describe_themes([login.pk, sync.pk], llm, embedder) == 0
