"""Copy drafts written from themes by the packaged language model, checked, and cited."""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from ingestion.models import DataSource, FeedbackItem
from insights.copy.writing import (
    COPY_KINDS,
    EXAMPLE_MATERIAL,
    PROMPT_VERSION,
    QUOTES_PER_THEME,
    CopyError,
    Material,
    check_copy,
    copy_prompt,
    phrasings,
    theme_material,
    write_copy,
)
from insights.local_models import configured_llm
from insights.models import (
    CopyDraft,
    CopyKind,
    ItemSentiment,
    ModelVersion,
    RunStatus,
    Theme,
    ThemeAssignment,
)
from llm.interfaces import Completion
from llm.prompts import FewShotPrompt

pytestmark = pytest.mark.django_db

SYNC_FEEDBACK = [
    ("Bank sync has failed every morning since the 5.2 update.", "negative"),
    ("My bank account stopped syncing and transactions are missing.", "negative"),
    ("Sync with my bank keeps showing a connection error.", "negative"),
    ("Bank sync is broken again, I add every transaction by hand.", "negative"),
    ("Syncing works fine for my second bank.", "positive"),
]
SYNC_SUMMARY = "Users report that bank sync fails and transactions go missing."


def sync_theme(
    name: str = "Bank sync failures",
    feedback: Sequence[tuple[str, str]] = SYNC_FEEDBACK,
    **fields: object,
) -> Theme:
    """A theme of new items with their sentiment, nearest the centre in the order given,
    whose generated summary cites its first two items."""
    source, _ = DataSource.objects.get_or_create(name="App Store")
    version, _ = ModelVersion.objects.get_or_create(name="model.gguf", sha256="0" * 64)
    theme = Theme.objects.create(
        name=name,
        centroid=np.ones(384, dtype="<f4").tobytes(),
        embedding_model="all-MiniLM-L6-v2",
        size=len(feedback),
        **fields,
    )
    items = []
    for position, (text, label) in enumerate(feedback):
        item = FeedbackItem.objects.create(
            source=source,
            kind="review",
            text=text,
            content_hash=f"{name}-{position}",
            created_at=datetime(2026, 11, 1 + position, tzinfo=UTC),
        )
        ThemeAssignment.objects.create(
            item=item, theme=theme, method="cluster", similarity=1 - position / 10
        )
        ItemSentiment.objects.create(item=item, llm_model=version, predicted=label)
        items.append(item)
    theme.representative_item_ids = [item.pk for item in items]
    theme.pain_summary = [{"text": SYNC_SUMMARY, "item_ids": [item.pk for item in items[:2]]}]
    theme.summary_kind = "generated"
    theme.save()
    return theme


def item_ids_of(theme: Theme) -> set[int]:
    return set(theme.assignments.values_list("item_id", flat=True))


class ScriptedModel:
    """A language model that always answers the same text: the packaged model cannot be
    made to loop or to write in a customer's voice on demand, and these paths need it."""

    name = "scripted.gguf"
    sha256 = "5" * 64

    def __init__(self, answer: str, finish_reason: str = "stop") -> None:
        self.answer, self.finish_reason = answer, finish_reason
        self.prompts: list[str] = []

    def render(self, prompt: FewShotPrompt) -> str:
        return prompt.as_completion()

    def complete(
        self, prompt: str, *, max_tokens: int, stop: Sequence[str] = (), timeout_s: float = 30.0
    ) -> Completion:
        self.prompts.append(prompt)
        return Completion(self.answer, self.finish_reason, max_tokens)


LOOP = " Fixed bank sync failures. Fixed bank sync failures. Fixed bank sync failures. Fixed"
GROUNDED = " Fixed an issue where bank sync failed and transactions went missing."


def new_draft(kind: str, *themes: Theme) -> CopyDraft:
    draft = CopyDraft.objects.create(kind=kind)
    draft.themes.set(themes)
    return draft


def test_the_packaged_model_writes_a_draft_that_cites_the_themes_items() -> None:
    theme = sync_theme()
    draft = new_draft(CopyKind.RELEASE_NOTE, theme)
    llm = configured_llm()

    write_copy(draft.pk, llm=llm)

    draft.refresh_from_db()
    assert (draft.status, draft.error) == (RunStatus.DONE, "")
    assert draft.kind == CopyKind.RELEASE_NOTE
    assert (draft.done, draft.total) == (1, 1)
    assert draft.llm_model.sha256 == llm.sha256
    assert draft.prompt_version == PROMPT_VERSION
    assert draft.finished_at is not None
    assert "Topic: Bank sync failures" in draft.prompt
    assert draft.prompt.rstrip().endswith("Release note:")
    assert 3 <= len(draft.cited_item_ids) <= QUOTES_PER_THEME
    assert set(draft.cited_item_ids) <= item_ids_of(theme)
    assert draft.text.startswith("# Release notes\n\n## Bank sync failures\n\n")
    based_on = draft.text.split("## Based on feedback\n\n", 1)[1]
    linked = [int(found) for found in re.findall(r"\]\(/feedback/(\d+)/\)", based_on)]
    assert linked == draft.cited_item_ids
    # The model's text is kept only when it passes the checks; otherwise the template says so.
    body = draft.text.split("\n\n")[2]
    assert "Template text: the model's draft was not used" in draft.text or not check_copy(
        body, theme_material(theme)
    )


def test_a_looping_model_is_replaced_by_the_template_and_the_draft_says_so() -> None:
    theme = sync_theme()
    draft = new_draft(CopyKind.RELEASE_NOTE, theme)

    write_copy(draft.pk, llm=ScriptedModel(LOOP, finish_reason="length"))

    draft.refresh_from_db()
    assert draft.status == RunStatus.DONE
    assert f"**Fixed: Bank sync failures.** {SYNC_SUMMARY}" in draft.text
    assert "> Template text: the model's draft was not used (it repeats itself)." in draft.text
    assert "Fixed bank sync failures. Fixed" not in draft.text
    assert set(draft.cited_item_ids) <= item_ids_of(theme)
    assert draft.llm_model.name == "scripted.gguf"


def test_each_theme_gets_its_section_and_progress_counts_them() -> None:
    sync = sync_theme()
    export = sync_theme(
        "CSV export errors",
        [
            ("The CSV export is empty.", "negative"),
            ("Export to CSV fails with an error.", "negative"),
        ],
    )
    draft = new_draft(CopyKind.CHANGELOG, sync, export)

    write_copy(draft.pk, llm=ScriptedModel(" Fixed: sync and export errors."))

    draft.refresh_from_db()
    assert (draft.done, draft.total) == (2, 2)
    assert draft.text.split("\n\n")[1].splitlines() == ["- Fixed: sync and export errors."] * 2
    sync_quotes = [item_id for item_id, _ in theme_material(sync).quotes]
    assert draft.cited_item_ids == sync_quotes + sorted(item_ids_of(export))
    assert draft.prompt.count("Changelog:") == 2 * 4  # three examples and the query, twice


def test_a_finished_draft_is_not_written_again() -> None:
    draft = new_draft(CopyKind.RELEASE_NOTE, sync_theme())
    write_copy(draft.pk, llm=ScriptedModel(GROUNDED))
    written = CopyDraft.objects.get(pk=draft.pk)

    again = ScriptedModel(LOOP)
    write_copy(draft.pk, llm=again)

    assert again.prompts == []
    assert CopyDraft.objects.get(pk=draft.pk).text == written.text
    assert GROUNDED.strip() in written.text


def test_a_redelivered_running_draft_starts_again_from_nothing() -> None:
    theme = sync_theme()
    draft = new_draft(CopyKind.RELEASE_NOTE, theme)
    CopyDraft.objects.filter(pk=draft.pk).update(
        status=RunStatus.RUNNING, done=1, total=1, text="half", cited_item_ids=[999999]
    )

    write_copy(draft.pk, llm=ScriptedModel(GROUNDED))

    draft.refresh_from_db()
    assert draft.status == RunStatus.DONE
    assert "half" not in draft.text and GROUNDED.strip() in draft.text
    assert set(draft.cited_item_ids) <= item_ids_of(theme)


def test_a_draft_without_themes_fails_with_a_reason() -> None:
    draft = new_draft(CopyKind.HELP_ARTICLE)

    with pytest.raises(CopyError):
        write_copy(draft.pk, llm=ScriptedModel(GROUNDED))

    draft.refresh_from_db()
    assert draft.status == RunStatus.FAILED
    assert draft.error == "the draft has no themes left to write about"
    assert draft.finished_at is not None


def test_the_material_is_the_summarys_quotes_then_the_nearest_negative_items() -> None:
    theme = sync_theme()
    ids = sorted(item_ids_of(theme))

    material = theme_material(theme)

    assert material.name == "Bank sync failures"
    assert material.pain_points == (SYNC_SUMMARY,)
    assert [item_id for item_id, _ in material.quotes] == ids[:QUOTES_PER_THEME]
    assert "Syncing works fine" not in " ".join(text for _, text in material.quotes)


def test_an_extractive_summary_adds_no_pain_points() -> None:
    theme = sync_theme()
    Theme.objects.filter(pk=theme.pk).update(summary_kind="extractive")
    theme.refresh_from_db()
    assert theme_material(theme).pain_points == ()


def test_every_kind_prompts_with_its_examples_and_ends_with_its_cue() -> None:
    material = Material(1, "Bank sync failures", (SYNC_SUMMARY,), ((7, SYNC_FEEDBACK[0][0]),))
    for spec in COPY_KINDS.values():
        text = copy_prompt(material, spec).as_completion()
        assert text.endswith(
            f"Topic: Bank sync failures\nCustomers say: {SYNC_SUMMARY}\n"
            f'Quotes: "{SYNC_FEEDBACK[0][0]}"\n{spec.cue}'
        )
        assert text.count("Topic:") == len(EXAMPLE_MATERIAL) + 1
        # Each example's answer passes the checks against its own material.
        for example, answer in zip(EXAMPLE_MATERIAL, spec.answers, strict=True):
            assert check_copy(answer.strip(), example) == "", answer


SYNC = Material(
    1,
    "Bank sync failures",
    (SYNC_SUMMARY,),
    tuple((n, text) for n, (text, _) in enumerate(SYNC_FEEDBACK[:4])),
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it is empty or too short"),
        ("Fixed sync.", "it is empty or too short"),
        ("Fixed an issue where bank sync", "it was cut off mid-sentence"),
        (LOOP.strip() + ".", "it repeats itself"),
        ("My bank sync fails every day.", "it is written as a customer, in the first person"),
        ("Bank sync is fixed and we will add more banks.", "it makes a promise (“we will”)"),
        ("Bank sync is fixed for 30 banks.", "it mentions 30, which the feedback does not"),
        ("Bank sync now works with Monzo.", "it mentions Monzo, which the feedback does not"),
        ("Fixed bank sync and parcel tracking.", "it copies an example (parcel, tracking)"),
        (
            "Hi, thank you for telling us about bank sync. We passed it to our payments team.",
            "it copies an example (payments)",
        ),
        ("Redesigned the colour scheme of the menus.", "it is not about the theme"),
    ],
)
def test_the_checks_reject_unusable_copy(text: str, problem: str) -> None:
    assert check_copy(text, SYNC) == problem


def test_the_checks_accept_copy_grounded_in_the_feedback() -> None:
    assert check_copy(GROUNDED.strip(), SYNC) == ""
    assert check_copy("Fixed: bank sync after the 5.2 update.", SYNC) == ""


def with_card(theme: Theme) -> Theme:
    """The theme with a card as describing builds it: two facets its items write."""
    ids = list(theme.assignments.order_by("-similarity").values_list("item_id", flat=True))
    theme.card = {
        "version": "test",
        "customers": 4,
        "facets": [
            {"phrase": "connection error", "customers": 3, "share": 0.75, "item_ids": ids[:2]},
            {
                "phrase": "transactions are missing",
                "customers": 2,
                "share": 0.5,
                "item_ids": ids[1:3],
            },
        ],
        "sentences": [{"text": "3 customers (75%) say “connection error”.", "path": "template"}],
    }
    theme.save()
    return theme


@pytest.mark.parametrize("kind", list(COPY_KINDS))
def test_a_base_model_picks_among_phrasings_written_from_the_card(kind: str) -> None:
    theme = with_card(sync_theme())
    draft = new_draft(kind, theme)
    write_copy(draft.pk, llm=configured_llm())
    draft.refresh_from_db()
    assert draft.status == RunStatus.DONE
    material = theme_material(theme)
    written = [text.strip() for text in phrasings(material, COPY_KINDS[kind])]
    assert len(written) >= 2
    # The draft holds one of them word for word, and says it was chosen, not written.
    assert sum(text in draft.text for text in written) == 1
    assert f"the model chose this wording among {len(written)}" in draft.text
    assert "<- chosen" in draft.prompt
    assert check_copy(next(t for t in written if t in draft.text), material) == ""


def test_a_model_that_cannot_choose_still_writes_from_the_card() -> None:
    theme = with_card(sync_theme())
    draft = new_draft(CopyKind.CHANGELOG, theme)
    write_copy(draft.pk, llm=ScriptedModel(" Fixed: bank sync connection errors."))
    draft.refresh_from_db()
    assert "- Fixed: bank sync connection errors." in draft.text
    assert "chose this wording" not in draft.text


def test_a_customers_html_and_links_are_written_as_text_in_the_markdown() -> None:
    hostile = [
        (
            'Export <img src=x onerror="alert(1)"> fails, see [help](https://attacker.example)',
            "negative",
        ),
        ("The export <script>alert(2)</script> is empty &amp; broken.", "negative"),
        ("Export fails \\[again\\](https://attacker.example/2) today", "negative"),
    ]
    theme = sync_theme('Export <b onmouseover="x()">errors</b>', hostile)
    draft = new_draft(CopyKind.RELEASE_NOTE, theme)

    write_copy(draft.pk, llm=ScriptedModel(LOOP))  # the template, with a customer's words

    text = CopyDraft.objects.get(pk=draft.pk).text
    assert not re.search(r"<(img|script|b)\b", text)
    # No "](" that Markdown reads as a link: an even run of backslashes escapes nothing.
    assert not re.search(r"(?<!\\)(?:\\\\)*\]\(https://attacker", text)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in text
    assert "\\[help\\](https://attacker.example)" in text
    assert '## Export &lt;b onmouseover="x()"&gt;errors&lt;/b&gt;' in text
    assert "&amp;amp; broken" in text  # an entity in the text is shown as written
