"""One analysis run open at a time, whatever starts it: the page, the command, beat, or
two of them at the same moment (issue 21). Two runs at once would cluster the same items
together and collide on their themes."""

import threading
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from feedlens.jobs import JobStatus
from insights.models import AnalysisRun
from insights.pipeline.run import RunInProgress, new_run, new_scheduled_run


@pytest.mark.django_db
def test_a_second_run_is_refused_while_one_is_open_and_allowed_once_it_ends() -> None:
    first = new_run()
    with pytest.raises(RunInProgress, match=f"Analysis run {first.pk} is queued") as refused:
        new_run(recluster=True)
    assert refused.value.run == first
    assert new_scheduled_run(recluster=False) is None  # beat waits for it

    AnalysisRun.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING)
    with pytest.raises(RunInProgress, match="is running"):
        new_run()

    AnalysisRun.objects.filter(pk=first.pk).update(status=JobStatus.FAILED)
    second = new_run()
    AnalysisRun.objects.filter(pk=second.pk).update(status=JobStatus.DONE)
    assert new_scheduled_run(recluster=True) is not None


@pytest.mark.django_db
def test_the_page_shows_the_run_already_open_instead_of_starting_another(
    admin_client: Client, django_capture_on_commit_callbacks: object
) -> None:
    open_run = new_run()
    response = admin_client.post(reverse("insights:analysis"), {"recluster": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("insights:analysis_run", args=[open_run.pk])
    assert f"Analysis run {open_run.pk} is queued" in response.content.decode()
    assert AnalysisRun.objects.count() == 1


@pytest.mark.django_db
def test_the_command_refuses_to_start_a_run_beside_an_open_one() -> None:
    open_run = new_run()
    with pytest.raises(CommandError, match=f"Analysis run {open_run.pk} is queued"):
        call_command("analyze", stdout=StringIO(), stderr=StringIO())
    assert AnalysisRun.objects.count() == 1


@pytest.mark.django_db
def test_the_command_carries_on_a_run_left_running_by_one_that_stopped() -> None:
    # A command interrupted (Ctrl-C) leaves its run running, its lease gone: not for ever.
    left = new_run()
    AnalysisRun.objects.filter(pk=left.pk).update(status=JobStatus.RUNNING, lease_expires_at=None)
    out = StringIO()

    call_command("analyze", stdout=out, stderr=StringIO())

    assert f"Carrying on analysis run {left.pk}, which was abandoned." in out.getvalue()
    assert AnalysisRun.objects.get().status == JobStatus.DONE


@pytest.mark.django_db(transaction=True)
def test_of_runs_started_at_the_same_moment_one_is_made(admin_user: User) -> None:
    start = threading.Barrier(4)
    made: list[int] = []
    refused: list[int] = []

    def start_one() -> None:
        try:
            start.wait()
            made.append(new_run(user=admin_user).pk)
        except RunInProgress as busy:
            refused.append(busy.run.pk if busy.run else 0)
        finally:
            connection.close()

    threads = [threading.Thread(target=start_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(made) == 1 and len(refused) == 3
    assert AnalysisRun.objects.count() == 1
