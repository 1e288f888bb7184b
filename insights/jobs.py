"""Starting the insights app's long work: analysis runs, copy drafts and reports. Each
function creates the job's row and hands its id to a worker once the transaction commits;
the page then polls the row (feedlens.jobs). The one module of the app that hands work to
Celery; beat's own tasks (insights.tasks) hand out what they find themselves."""

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from feedlens.jobs import hand_out_on_commit
from insights import tasks
from insights.copy.writing import new_copy_draft
from insights.models import AnalysisRun, CopyDraft, Report
from insights.pipeline.run import new_run
from insights.reports.archive import FORMATS, new_report
from insights.reports.content import WHOLE_WORKSPACE, ReportScope
from insights.reports.period import Period


def start_analysis(
    *,
    source_id: int | None = None,
    recluster: bool = False,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> AnalysisRun:
    """Create a run and hand it to a worker once the transaction commits; return it."""
    with transaction.atomic():
        run = new_run(source_id=source_id, recluster=recluster, user=user)
        hand_out_on_commit(tasks.run_analysis_task, run)
    return run


def start_copy_draft(
    kind: str, theme_ids: Sequence[int], user: AbstractBaseUser | AnonymousUser | None = None
) -> CopyDraft:
    """Create a draft of kind for the themes and hand it to a worker once the transaction
    commits; return it (queued)."""
    with transaction.atomic():
        draft = new_copy_draft(kind, theme_ids, user)
        hand_out_on_commit(tasks.write_copy_task, draft)
    return draft


def request_report(
    period: Period,
    scope: ReportScope = WHOLE_WORKSPACE,
    formats: Iterable[str] = FORMATS,
    created_by: AbstractBaseUser | AnonymousUser | None = None,
) -> Report:
    """Create a queued report and hand it to a worker once the transaction commits; return
    it. Reports are made on a worker: a week of 100,000 items takes seconds, months of them
    tens of seconds (see the reports section of README.md)."""
    with transaction.atomic():
        report = new_report(period, scope, formats, created_by)
        hand_out_on_commit(tasks.generate_report_task, report)
    return report
