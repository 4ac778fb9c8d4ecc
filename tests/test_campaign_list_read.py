"""A long recipient list is read by a worker, not in the request (issue 15, "thousands of rows"):
the POST answers at once with a page that follows the read (rows read of the total, polled) and
lands on the preview; the preview counts exactly as a list read in the request; a list that cannot
be read, or a worker killed midway, says why on that page and changes nothing; a campaign whose
list is still being read cannot be started; only Senders see any of it."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import lists
from campaigns.lists import campaign_list_read_run
from campaigns.models import Campaign, ListRead, Recipient
from messaging.models import OptOut
from phone_numbers.models import Did
from tests.conftest import make_user, run_tasks, task_given_up
from tests.test_campaign_pages import (
    DID,
    csv_upload,
    five_hundred_rows,
    new_campaign,
    number,
    reasons_counted,
)

LONG = 1_200  # over BACKGROUND_ROWS, so read by the worker without patching anything


@pytest.fixture
def dids(db):
    return [
        Did.objects.create(did_sid="d1", phonenumber=DID, active_capabilities=7, capabilities=7)
    ]


def long_list(rows: int = LONG) -> bytes:
    lines = ["First Name,Phone,Company"]
    lines += [
        f"Ann{i},+1 {number(i)[1:4]}-{number(i)[4:7]}-{number(i)[7:]},Acme" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def draft_with_a_long_list_being_read(client, *, body: str) -> Campaign:
    """A draft of 3 recipients, then edited with a list long enough for the worker to read."""
    new_campaign(client, recipients_file=csv_upload(long_list(3)))
    draft = Campaign.objects.get()
    client.post(
        reverse("campaigns:edit", args=[draft.pk]),
        {
            "name": "Spring sale",
            "dids": [DID],
            "body": body,
            "when": "now",
            "recipients_file": csv_upload(long_list()),
        },
    )
    return draft


def read_page(client, job: ListRead, *, htmx: bool = False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.get(reverse("campaigns:list_read", args=[job.pk]), headers=headers)


def test_a_long_list_is_left_to_the_worker_and_the_post_answers_with_its_progress_page(
    sender_client, dids
):
    response = new_campaign(sender_client, recipients_file=csv_upload(long_list(), "spring.csv"))
    job = ListRead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:list_read", args=[job.pk])
    # Nothing is stored yet but the list itself, in the default storage, and the form's values.
    assert not Campaign.objects.exists() and not Recipient.objects.exists()
    assert default_storage.open(job.file.name).read() == long_list()
    assert (job.state, job.filename, job.fields["name"], job.fields["dids"]) == (
        "queued",
        "spring.csv",
        "Spring sale",
        [DID],
    )
    assert DBTaskResult.objects.get(pk=job.task_id).task_path == (
        "campaigns.tasks.campaign_list_read_task"
    )
    html = read_page(sender_client, job).content.decode()
    assert "<h1>Reading spring.csv</h1>" in html
    assert "Waiting to start" in html
    assert 'hx-trigger="every 1s, live:resume"' in html


def test_the_page_says_rows_read_of_the_total_and_lands_on_the_preview_when_read(
    sender_client, dids
):
    new_campaign(sender_client, recipients_file=csv_upload(long_list()))
    job = ListRead.objects.get()
    ListRead.objects.filter(pk=job.pk).update(
        state="running", rows_total=1200, rows_read=300, started_at=timezone.now()
    )
    poll = read_page(sender_client, job, htmx=True)
    html = poll.content.decode()
    assert html.lstrip().startswith('<section class="card import-report" id="read-status"')
    assert '<progress id="read-bar" max="1200" value="300">25%</progress>' in html
    assert "300 of 1,200 rows read (25%)" in html
    assert "estimated finish" in html
    ListRead.objects.filter(pk=job.pk).update(rows_read=1200)
    assert (
        "every row read; storing the recipients" in read_page(sender_client, job).content.decode()
    )

    assert campaign_list_read_run(job.pk) == "1200 to send, 0 removed"
    campaign = Campaign.objects.get()
    preview = reverse("campaigns:preview", args=[campaign.pk])
    poll = read_page(sender_client, job, htmx=True)
    assert poll["HX-Redirect"] == preview
    assert read_page(sender_client, job)["Location"] == preview
    html = sender_client.get(preview).content.decode()
    assert '<p class="big-count" id="send-count"><strong>1200</strong> recipients to text' in html
    assert "Hi Ann0, 20% off at Acme this week." in html
    job.refresh_from_db()
    assert (job.state, job.rows_read, job.rows_total, job.campaign_id) == (
        "done",
        1200,
        1200,
        campaign.pk,
    )
    assert (campaign.name, campaign.created_by.username, campaign.dids) == (
        "Spring sale",
        "sam",
        [DID],
    )
    # The list is not kept once read.
    assert not job.file and job.pasted == ""


def test_a_list_read_by_the_worker_previews_the_500_rows_exactly_as_in_the_request(
    sender_client, dids, monkeypatch
):
    monkeypatch.setattr("campaigns.forms.BACKGROUND_ROWS", 100)
    data, opted = five_hundred_rows()
    for n in opted:
        OptOut.objects.create(
            customer_number=n, our_number=DID, keyword="STOP", changed_at=timezone.now()
        )
    response = new_campaign(sender_client, recipients_file=csv_upload(data))
    job = ListRead.objects.get()
    assert response["Location"] == reverse("campaigns:list_read", args=[job.pk])
    assert campaign_list_read_run(job.pk) == "455 to send, 45 removed"
    campaign = Campaign.objects.get()
    html = sender_client.get(reverse("campaigns:preview", args=[campaign.pk])).content.decode()
    assert '<p class="big-count" id="send-count"><strong>455</strong> recipients to text' in html
    assert "45 rows of the list will not be texted" in html
    assert reasons_counted(campaign) == {
        "": 455,
        "unparsable": 20,
        "duplicate": 15,
        "opted_out": 10,
    }


def test_pasted_numbers_past_the_threshold_are_read_by_the_worker_too(sender_client, dids):
    pasted = "\n".join(f"+{number(i)}" for i in range(LONG)) + "\nnot a number"
    response = new_campaign(sender_client, numbers=pasted, body="Hello from us")
    job = ListRead.objects.get()
    assert response["Location"] == reverse("campaigns:list_read", args=[job.pk])
    assert not job.file
    assert campaign_list_read_run(job.pk) == "1200 to send, 1 removed"
    assert Campaign.objects.get().recipients.filter(reason="unparsable").count() == 1


def test_a_short_list_is_still_read_in_the_request(sender_client, dids):
    response = new_campaign(sender_client, recipients_file=csv_upload(long_list(20)))
    campaign = Campaign.objects.get()
    assert response["Location"] == reverse("campaigns:preview", args=[campaign.pk])
    assert campaign.recipients.count() == 20
    assert not ListRead.objects.exists()


def test_progress_is_written_every_500_rows_and_at_the_end_outside_the_transaction(
    dids, monkeypatch
):
    seen = []
    recorder = lists.progress_recorder

    def spying(jobs):
        write = recorder(jobs)

        def progress(read, total):
            write(read, total)
            seen.append((read, total, jobs.get().rows_read))

        return progress

    monkeypatch.setattr(lists, "progress_recorder", spying)
    job = ListRead.objects.create(fields={"name": "X", "dids": [DID], "body": "Hi"})
    job.file.save("list.csv", csv_upload(long_list()))
    campaign_list_read_run(job.pk)
    assert seen == [(500, 1200, 500), (1000, 1200, 1000), (1200, 1200, 1200)]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"name,company\nAnn,Acme\n" * 300, "No column of phone numbers was found."),
        ("phone\n".encode("utf-16") + b"\xff\xfe\x00" * 900, "No column of phone numbers"),
        (b"", "The list holds no numbers."),
        (b"phone\n" + b"+1 212 555 1000\n" * 1_001, "at most 1,000 at once"),
    ],
    ids=["no number column", "utf-16 and damaged bytes", "empty", "too many rows"],
)
def test_a_list_that_cannot_be_read_says_why_on_its_page_and_changes_nothing(
    sender_client, dids, data, words, monkeypatch
):
    monkeypatch.setattr("campaigns.recipients.MAX_ROWS", 1_000)
    new_campaign(sender_client, recipients_file=csv_upload(long_list(3)))
    draft = Campaign.objects.get()
    before = list(draft.recipients.values_list("number", flat=True))
    job = ListRead.objects.create(campaign=draft, fields={"name": "New name", "body": "Yo"})
    job.file.save("list.csv", csv_upload(data))
    stored = job.file.name
    assert campaign_list_read_run(job.pk).startswith("not read: ")
    job.refresh_from_db()
    assert job.state == "failed" and words in job.error
    draft.refresh_from_db()
    assert (draft.name, draft.body) == (
        "Spring sale",
        "Hi {first_name}, 20% off at {company} this week.",
    )
    assert list(draft.recipients.values_list("number", flat=True)) == before
    assert not default_storage.exists(stored)

    poll = read_page(sender_client, job, htmx=True)
    assert poll.status_code == 286  # htmx stops polling
    html = read_page(sender_client, job).content.decode()
    assert "The list was not read" in html
    assert "Nothing was changed: " in html and words in html
    assert reverse("campaigns:edit", args=[draft.pk]) in html
    assert "hx-trigger" not in html


def test_a_read_killed_midway_wrote_nothing_and_its_rerun_reads_it_whole(dids, monkeypatch):
    job = ListRead.objects.create(fields={"name": "X", "dids": [DID], "body": "Hi"})
    job.file.save("list.csv", csv_upload(long_list()))

    def killed(jobs):
        def progress(read, total):
            jobs.update(rows_read=read, rows_total=total)
            if read == 1000:
                raise SystemExit("worker killed")

        return progress

    monkeypatch.setattr(lists, "progress_recorder", killed)
    with pytest.raises(SystemExit):
        campaign_list_read_run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.rows_read) == ("running", 1000)
    assert not Campaign.objects.exists() and not Recipient.objects.exists()
    monkeypatch.undo()
    assert campaign_list_read_run(job.pk) == "1200 to send, 0 removed"
    assert Recipient.objects.count() == 1200


def test_a_read_whose_worker_died_for_good_says_so_and_no_longer_holds_the_draft(
    sender_client, dids
):
    draft = draft_with_a_long_list_being_read(sender_client, body="Hi")
    job = ListRead.objects.get()
    assert sender_client.post(reverse("campaigns:start", args=[draft.pk])).status_code == 302
    draft.refresh_from_db()
    assert draft.state == "draft"
    ListRead.objects.filter(pk=job.pk).update(state="running", rows_total=1200, rows_read=500)
    task_given_up(job.task_id)
    html = read_page(sender_client, job).content.decode()
    assert "Nothing was changed: the worker reading the list stopped before it finished" in html
    assert draft.recipients.count() == 3
    sender_client.post(reverse("campaigns:start", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.state == "running"


def test_a_draft_cannot_be_started_while_its_new_list_is_read(sender_client, dids):
    draft = draft_with_a_long_list_being_read(sender_client, body="Hi {first_name}")
    job = ListRead.objects.get()
    preview = sender_client.get(reverse("campaigns:preview", args=[draft.pk])).content.decode()
    assert "A new list for this draft is still being read" in preview
    assert '<button type="submit" class="primary" disabled>Start</button>' in preview

    response = sender_client.post(reverse("campaigns:start", args=[draft.pk]), follow=True)
    assert response.redirect_chain[0][0] == reverse("campaigns:list_read", args=[job.pk])
    assert "Not started: its new list is still being read." in response.content.decode()
    draft.refresh_from_db()
    assert draft.state == "draft" and draft.recipients.count() == 3
    assert not DBTaskResult.objects.filter(
        task_path="campaigns.tasks.campaign_dispatch_task"
    ).exists()

    campaign_list_read_run(job.pk)
    draft.refresh_from_db()
    assert (draft.body, draft.recipients.count()) == ("Hi {first_name}", 1200)
    sender_client.post(reverse("campaigns:start", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.state == "running"


def test_a_draft_started_before_its_list_is_read_keeps_its_list(sender_client, dids):
    new_campaign(sender_client, recipients_file=csv_upload(long_list(3)))
    draft = Campaign.objects.get()
    job = ListRead.objects.create(campaign=draft, fields={"name": "New", "body": "Yo"})
    job.file.save("list.csv", csv_upload(long_list()))
    Campaign.objects.filter(pk=draft.pk).update(state="running")
    assert "no longer a draft" in campaign_list_read_run(job.pk)
    assert draft.recipients.count() == 3
    assert Campaign.objects.get().name == "Spring sale"


@pytest.mark.parametrize("groups", [(), ("Inbox staff",), ("Number admins",)])
def test_whoever_may_not_send_gets_403_on_the_reading_page(client, dids, groups):
    job = ListRead.objects.create(fields={"name": "X"})
    client.force_login(make_user("viewer", *groups))
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(reverse("campaigns:list_read", args=[job.pk]), headers=headers)
        assert response.status_code == 403
        assert "Sending needs the Senders role" in response.content.decode()


def test_deleting_a_draft_whose_list_waits_to_be_read_deletes_the_stored_file(
    sender_client, dids, django_capture_on_commit_callbacks
):
    draft = draft_with_a_long_list_being_read(sender_client, body="Hi")
    job = ListRead.objects.get(campaign=draft)
    stored = job.file.name
    assert stored and default_storage.exists(stored)
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(reverse("campaigns:delete", args=[draft.pk]))
    assert response["Location"] == reverse("campaigns:list")
    assert not Campaign.objects.exists() and not ListRead.objects.exists()
    assert not default_storage.exists(stored)
    assert campaign_list_read_run(job.pk) == "nothing to do"  # its queued task finds nothing


def test_a_started_campaign_is_not_deleted_and_its_files_stay(
    sender_client, dids, django_capture_on_commit_callbacks
):
    draft = draft_with_a_long_list_being_read(sender_client, body="Hi")
    stored = ListRead.objects.get(campaign=draft).file.name
    Campaign.objects.filter(pk=draft.pk).update(state=Campaign.State.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        sender_client.post(reverse("campaigns:delete", args=[draft.pk]))
    assert Campaign.objects.filter(pk=draft.pk).exists()
    assert default_storage.exists(stored)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"name": "Spring sale"}, "Spring sale: a long list is read in the background."),
        ({}, "A long list is read in the background."),
        ({"name": ""}, "A long list is read in the background."),
    ],
    ids=["named", "no name", "empty name"],
)
def test_the_reading_page_names_the_campaign_only_when_it_has_a_name(
    sender_client, dids, fields, says
):
    job = ListRead.objects.create(fields=fields)
    page = read_page(sender_client, job).content.decode()
    assert says in page
    assert ">: " not in page


def test_no_such_list_is_a_404(sender_client, dids):
    assert sender_client.get(reverse("campaigns:list_read", args=[999])).status_code == 404
    assert sender_client.get("/messaging/campaigns/lists/99999999999999999999/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_task_worker_reads_an_uploaded_list(client):
    Did.objects.create(did_sid="d1", phonenumber=DID, active_capabilities=7, capabilities=7)
    client.force_login(make_user("sam", "Senders"))
    new_campaign(client, recipients_file=csv_upload(long_list()))
    assert run_tasks() == 1
    job = ListRead.objects.get()
    assert job.state == "done"
    assert job.campaign.recipients.count() == 1200


def test_nul_bytes_in_a_damaged_file_are_dropped_so_every_database_stores_the_list(dids):
    job = ListRead.objects.create(fields={"name": "X", "dids": [DID], "body": "Hi"})
    job.file.save(
        "list.csv", csv_upload(b"First Name,Phone\nA\x00nn,+1 212 555 1000\n\x00,2125551001\n")
    )
    assert campaign_list_read_run(job.pk) == "2 to send, 0 removed"
    assert [r.variables["first_name"] for r in Recipient.objects.order_by("row")] == ["Ann", ""]
