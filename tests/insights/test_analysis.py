"""An analysis run end to end on the real models: stages, progress, re-runs and failures."""

from dataclasses import replace
from datetime import date

import pytest
from pytest_django.fixtures import Settings

from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from insights.models import (
    AnalysisRun,
    ItemEmbedding,
    ItemSentiment,
    NameSource,
    RunChunk,
    RunStatus,
    Theme,
    ThemeAssignment,
)
from insights.pipeline import run as analysis
from insights.pipeline.run import STAGES, run_analysis

pytestmark = pytest.mark.django_db


def load_demo(weeks: int = 2, per_week: int = 100, end: date = date(2026, 11, 1)) -> int:
    records = generate_demo_feedback(seed=5, weeks=weeks, end=end, items_per_week=per_week)
    return load_demo_feedback(records).created


def test_a_run_embeds_scores_themes_and_describes_every_item() -> None:
    items = load_demo()
    seen: list[tuple[str, int, int]] = []
    run = run_analysis(AnalysisRun.objects.create().pk, observer=lambda *step: seen.append(step))

    assert run.status == RunStatus.DONE and not run.error
    assert list(run.stats) == list(STAGES)
    # The first run clusters every item: no new item joins a stored theme, and it says why.
    assert run.stats["assigning"] == {
        "items": 0,
        "seconds": run.stats["assigning"]["seconds"],
        "note": "none: this run clusters every item again",
    }
    assert [stage for stage, _, _ in seen if stage] == sorted(
        (stage for stage, _, _ in seen), key=STAGES.index
    )
    assert ItemEmbedding.objects.count() == items
    assert ItemSentiment.objects.exclude(predicted="").count() == items
    assert ThemeAssignment.objects.count() >= 0.9 * items
    themes = Theme.objects.filter(size__gt=0)
    assert themes.count() >= 4
    assert all(theme.described_at and theme.keywords for theme in themes)
    assert all(not theme.name.startswith("Theme ") for theme in themes)
    assert (
        themes.exclude(name_model=None).count()
        + themes.filter(name_source=NameSource.KEYWORDS).count()
        >= themes.count()
    )


def test_running_again_does_no_work_twice_and_new_items_join_themes(
    settings: Settings,
) -> None:
    load_demo()
    run_analysis(AnalysisRun.objects.create().pk)
    themes = set(Theme.objects.values_list("pk", flat=True))

    again = run_analysis(AnalysisRun.objects.create().pk)
    for stage in ("embedding", "sentiment", "predicting", "assigning", "themes", "describing"):
        assert again.stats[stage]["items"] == 0, stage

    added = load_demo(weeks=1, per_week=30, end=date(2026, 11, 8))  # the week after
    settings.FEEDLENS_PREDICT_CHUNK_ITEMS = 7
    settings.FEEDLENS_ASSIGN_CHUNK_ITEMS = 7
    later = run_analysis(AnalysisRun.objects.create().pk)
    assert later.stats["embedding"]["items"] == added > 0
    assert later.stats["sentiment"]["items"] == added
    assert later.stats["predicting"]["items"] >= added  # all of them, if a source was refitted
    assert later.stats["assigning"]["items"] > added / 2
    assert set(Theme.objects.values_list("pk", flat=True)) == themes
    # The new items were predicted and joined themes in chunks, each item in one.
    for stage in ("predicting", "assigning"):
        chunks = RunChunk.objects.filter(run=later, stage=stage)
        assert chunks.count() > 1 and max(len(chunk.ids) for chunk in chunks) == 7
        in_chunks = [pk for chunk in chunks for pk in chunk.ids]
        assert len(in_chunks) == len(set(in_chunks)) >= added


def test_a_run_fitted_on_a_sample_places_the_other_items_in_chunks(settings: Settings) -> None:
    items = load_demo(weeks=2, per_week=60)
    settings.FEEDLENS_CLUSTER_SAMPLE = items // 2
    settings.FEEDLENS_ASSIGN_CHUNK_ITEMS = 15

    run = run_analysis(AnalysisRun.objects.create().pk)

    assert run.status == RunStatus.DONE
    assert "Fitted on a sample; the other" in run.stats["themes"]["note"]
    in_sample = run.stats["themes"]["items"]
    assert in_sample <= items // 2 + 2  # every point of an item is in the sample or none
    chunks = RunChunk.objects.filter(run=run, stage="placing")
    placed = [pk for chunk in chunks for pk in chunk.ids]
    assert len(placed) == len(set(placed)) >= items - items // 2 - 2
    assert max(len(chunk.ids) for chunk in chunks) == 15
    assert run.stats["placing"]["items"] == sum(chunks.values_list("items", flat=True)) > 0
    themed = ThemeAssignment.objects.values("item_id").distinct().count()
    assert themed == in_sample + run.stats["placing"]["items"]
    assert run.stats["placing"]["items"] > len(placed) / 2  # most join a theme


def test_a_finished_run_is_left_alone() -> None:
    run = AnalysisRun.objects.create(status=RunStatus.DONE, stage="describing")
    assert run_analysis(run.pk).stats == {}


def test_a_failing_stage_fails_the_run_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    load_demo(weeks=1, per_week=20)

    def broken(chunk: RunChunk) -> int:
        raise RuntimeError("the model file is unreadable")

    sentiment = analysis.CHUNKED_STAGES["sentiment"]
    monkeypatch.setitem(analysis.CHUNKED_STAGES, "sentiment", replace(sentiment, work=broken))
    run = AnalysisRun.objects.create()
    with pytest.raises(RuntimeError):
        run_analysis(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error == "sentiment: the model file is unreadable"
    assert "embedding" in run.stats and "sentiment" not in run.stats
