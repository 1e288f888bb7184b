"""The benchmark's pure parts: the synthetic feedback builder and the report writer. The
timed runs themselves are `make bench`, not tests."""

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from devtools.benchmark.llm_speed import PROMPT_CHARS, TokenRate, speed_prompt
from devtools.benchmark.pipeline import PipelineTimings
from devtools.benchmark.report import SizeResult, sections_for, write_report
from devtools.benchmark.synthetic import (
    PERIOD,
    SourceText,
    perturb,
    read_source_texts,
    synthetic_rows,
    write_csv,
)
from devtools.benchmark.theme_speed import ClusteringTiming
from devtools.evaluation.datasets import DatasetError

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SOURCES = [
    SourceText("airline_tweets", "@united my bag never arrived at the gate"),
    SourceText("banking77", "Why is my card payment still pending"),
    SourceText("amazon_reviews", "Great tablet for the kids"),
]


def _original(text: str) -> set[str]:
    """Return the source texts that text could have been derived from."""
    words = text.split()
    derived = set()
    for source in SOURCES:
        source_words = source.text.split()
        if text.rsplit(" #", 1)[0] == source.text:
            derived.add(source.text)
        if len(words) == len(source_words) - 1 and _drops_one(source_words, words):
            derived.add(source.text)
        if len(words) == len(source_words) + 1 and _drops_one(words, source_words):
            derived.add(source.text)
    return derived


def _drops_one(longer: list[str], shorter: list[str]) -> bool:
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def test_it_builds_the_number_of_rows_asked_for_with_unique_ids() -> None:
    rows = synthetic_rows(SOURCES, 500, END)

    assert len(rows) == 500
    assert len({row.id for row in rows}) == 500
    assert rows[0].id == "bench-000001"
    assert synthetic_rows(SOURCES, 5, END, id_prefix="new")[-1].id == "new-000005"


def test_it_dates_every_row_within_the_eight_weeks_before_the_end() -> None:
    rows = synthetic_rows(SOURCES, 500, END)

    assert all(END - PERIOD <= row.date <= END for row in rows)
    assert [row.date for row in rows] == sorted(row.date for row in rows)
    # Spread over the period, not bunched at one end.
    assert rows[0].date - (END - PERIOD) < PERIOD / 10
    assert END - rows[-1].date < PERIOD / 10


def test_every_text_is_one_light_change_of_a_source_text_of_its_dataset() -> None:
    rows = synthetic_rows(SOURCES, 300, END, seed=3)
    by_text = {source.text: source.dataset for source in SOURCES}

    for row in rows:
        originals = _original(row.text)
        assert originals, row.text
        assert row.text not in by_text
        assert {by_text[text] for text in originals} == {row.dataset}


def test_it_samples_every_source_and_repeats_them() -> None:
    rows = synthetic_rows(SOURCES, 300, END)

    counts = {source.dataset: 0 for source in SOURCES}
    for row in rows:
        counts[row.dataset] += 1
    assert all(60 < count < 140 for count in counts.values()), counts


def test_the_same_seed_builds_the_same_rows_and_another_seed_other_rows() -> None:
    assert synthetic_rows(SOURCES, 50, END, seed=1) == synthetic_rows(SOURCES, 50, END, seed=1)
    assert synthetic_rows(SOURCES, 50, END, seed=1) != synthetic_rows(SOURCES, 50, END, seed=2)


@pytest.mark.parametrize(
    ("kind", "expected_words"),
    [("drop_word", 4), ("repeat_word", 6), ("suffix", 6)],
)
def test_each_perturbation_changes_the_text_lightly(kind: str, expected_words: int) -> None:
    text = "the app crashes on login"
    changed = perturb(text, kind, 7, np.random.default_rng(0))

    assert changed != text
    assert len(changed.split()) == expected_words
    if kind == "suffix":
        assert changed == "the app crashes on login #7"


def test_it_writes_a_csv_the_importer_can_map(tmp_path: Path) -> None:
    rows = synthetic_rows(SOURCES, 20, END)
    path = write_csv(rows, tmp_path / "data" / "feedback.csv")

    with path.open(newline="", encoding="utf-8") as file:
        written = list(csv.DictReader(file))
    assert [row["id"] for row in written] == [row.id for row in rows]
    assert written[0]["text"] == rows[0].text
    assert datetime.fromisoformat(written[0]["date"]) == rows[0].date


def test_it_refuses_to_build_from_no_texts() -> None:
    with pytest.raises(DatasetError):
        synthetic_rows([], 10, END)


def test_it_reads_the_texts_of_the_four_public_datasets(datasets_dir: Path) -> None:
    texts = read_source_texts(datasets_dir)

    datasets = {text.dataset for text in texts}
    assert datasets == {"airline_tweets", "banking77", "amazon_reviews", "comcast_complaints"}
    assert len(texts) > 25_000
    assert all(text.text.strip() for text in texts)


def _result() -> SizeResult:
    timings = PipelineTimings(
        items=1000,
        stage_seconds={"import": 2.0, "embedding": 10.0, "sentiment": 8.0},
        stage_items={"import": 1000, "embedding": 1000, "sentiment": 1000},
        end_to_end_seconds=25.0,
    )
    clustering = [
        ClusteringTiming("ours", 4.0, 12, 0.01),
        ClusteringTiming("BERTopic", 10.0, 30, 0.3),
    ]
    rates = [TokenRate("prompt", 400, 0.5), TokenRate("generation", 64, 0.0)]
    return SizeResult(1000, timings, 2 * 1024**3, clustering, {"/": 0.012}, (1.5, 1.0, 0.5), rates)


def test_the_sections_give_rates_shares_and_ratios() -> None:
    pipeline, themes, llm, pages = sections_for(_result())

    by_stage = {row["stage"]: row for row in pipeline.rows}
    assert by_stage["embedding"]["items/s"] == 100.0
    assert by_stage["embedding"]["share"] == 0.5
    assert by_stage["sum of stages"]["seconds"] == 20.0
    assert by_stage["end to end (queue to done)"]["items/s"] == 40.0
    assert any("2.00 GiB" in note for note in pipeline.notes)
    assert [row["vs ours"] for row in themes.rows] == [1.0, 2.5]
    assert [row["tokens/s"] for row in llm.rows] == [800.0, None]
    assert pages.rows == [{"page": "/", "median ms": 12.0}]


def test_it_leaves_out_sections_with_nothing_measured() -> None:
    result = _result()
    result.clustering, result.pages, result.llm_rates = [], {}, []

    assert [section.name for section in sections_for(result)] == ["pipeline_1000"]


def test_the_run_for_new_items_gets_its_own_table_after_the_first_run() -> None:
    result = _result()
    result.new_items = PipelineTimings(
        items=100,
        stage_seconds={"import": 0.5, "embedding": 1.5, "themes": 2.0},
        stage_items={"import": 100, "embedding": 100, "themes": 100},
        end_to_end_seconds=5.0,
    )

    sections = sections_for(result)
    assert [section.name for section in sections][:2] == ["pipeline_1000", "new_items_1000"]
    new_items = sections[1]
    assert new_items.title == "New items after 1,000: assigned to the stored themes"
    by_stage = {row["stage"]: row for row in new_items.rows}
    assert by_stage["themes"]["items/s"] == 50.0
    assert by_stage["themes"]["share"] == 0.5
    assert by_stage["end to end (queue to done)"]["items/s"] == 20.0
    assert "100 new items" in new_items.notes[0]


def test_it_writes_the_dated_and_latest_reports(tmp_path: Path) -> None:
    sections = sections_for(_result())
    paths = write_report(sections, {"sizes": "1,000"}, tmp_path, day=date(2026, 11, 23))

    assert sorted(path.name for path in paths) == [
        "bench-2026-11-23.json",
        "bench-2026-11-23.md",
        "latest.json",
        "latest.md",
    ]
    document = json.loads((tmp_path / "latest.json").read_text())
    assert document["date"] == "2026-11-23"
    assert document["sections"]["pipeline_1000"]["rows"][1]["seconds"] == 10.0
    markdown = (tmp_path / "bench-2026-11-23.md").read_text()
    assert markdown.startswith("# Feedlens speed benchmark, 2026-11-23")
    assert "## Pipeline at 1,000 items" in markdown
    assert "| embedding | 1000 | 10.000 | 100.000 | 0.500 |" in markdown


def test_the_llm_speed_prompt_holds_a_fixed_amount_of_feedback() -> None:
    prompt = speed_prompt([source.text for source in SOURCES] * 100)

    assert prompt.startswith("Customer feedback:\n- @united my bag never arrived")
    assert len(prompt) < PROMPT_CHARS + 100
    assert speed_prompt(["a", "b"]) == speed_prompt(["a", "b"])
