"""Contacts imported from CSV: deduplicated by E.164 however the numbers are typed, existing
contacts updated, and a report saying exactly what happened to every row and why."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from contacts.imports import contact_import_run, contacts_import
from contacts.models import Contact, ContactImport, ContactTag
from messaging.models import ConsentEvent
from tests.conftest import make_user, run_tasks, task_given_up

pytestmark = pytest.mark.django_db

MESSY = b"""Phone,Name,Company,Tags,Notes,Consent Source,Consent Date,Shoe size
+1 (516) 206-5575,Ann Lee,Acme,VIP; wholesale,,web form,2026-01-05,42
5162065575,Ann again,,,,,,
,Nobody,,,,,,
not a phone,Bad,,,,,,
212-555-0142,Bob,,,,signup,someday,
(212) 555-0143,Cy,,x,,,,
12125550144,Di,,,,,2026-01-05,
212.555.0143,Cy twice,,,,,,
"""


def report_lines(report):
    return [(r.row, r.number, r.outcome, r.reason) for r in report.rows]


def test_each_row_is_reported_exactly():
    report = contacts_import(MESSY, user=None)
    assert report_lines(report) == [
        (1, "+1 (516) 206-5575", "created", "name, company, shoe_size, tags, consent"),
        (2, "5162065575", "skipped", "duplicate of row 1"),
        (3, "", "skipped", "no number"),
        (4, "not a phone", "skipped", "not a valid number"),
        (
            5,
            "212-555-0142",
            "skipped",
            "consent date “someday” is not a date (write it as 2026-11-29)",
        ),
        (6, "(212) 555-0143", "created", "name, tags"),
        (7, "12125550144", "skipped", "a consent date without a consent source"),
        (8, "212.555.0143", "skipped", "duplicate of row 6"),
    ]
    assert report.counts == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 6}
    ann = Contact.objects.get(number="15162065575")
    assert (ann.name, ann.company, ann.tags, ann.fields) == (
        "Ann Lee",
        "Acme",
        ["vip", "wholesale"],
        {"shoe_size": "42"},
    )
    assert sorted(Contact.objects.values_list("number", flat=True)) == [
        "12125550143",
        "15162065575",
    ]
    consent = ConsentEvent.objects.get()
    assert (consent.customer_number, consent.our_number, consent.kind, consent.method) == (
        "15162065575",
        "",
        "opt_in",
        "import",
    )
    assert consent.detail == "web form"
    assert consent.consented_at.date().isoformat() == "2026-01-05"


def test_existing_contacts_are_updated_with_filled_cells_and_added_tags():
    ann = Contact.objects.create(number="15162065575", name="Ann", company="Acme", notes="keep")
    ContactTag.objects.create(contact=ann, name="old")
    data = b"number,name,company,tags,notes\n15162065575,Ann Lee,,new,\n"
    report = contacts_import(data, user=None)
    assert report_lines(report) == [(1, "15162065575", "updated", "name, tags")]
    ann.refresh_from_db()
    assert (ann.name, ann.company, ann.notes, ann.tags) == (
        "Ann Lee",
        "Acme",
        "keep",
        ["new", "old"],
    )


def test_importing_the_same_file_twice_changes_nothing_the_second_time():
    contacts_import(MESSY, user=None)
    again = contacts_import(MESSY, user=None)
    assert [(r.row, r.outcome, r.reason) for r in again.rows if r.outcome != "skipped"] == [
        (1, "unchanged", "already up to date"),
        (6, "unchanged", "already up to date"),
    ]
    assert ConsentEvent.objects.count() == 1
    assert Contact.objects.count() == 2


def test_a_consent_date_in_the_future_is_refused():
    report = contacts_import(
        b"number,consent_source,consent_date\n15162065575,form,2999-01-01\n", user=None
    )
    assert report_lines(report) == [
        (1, "15162065575", "skipped", "consent date “2999-01-01” is in the future")
    ]
    assert not Contact.objects.exists()


def test_us_written_consent_dates_are_read():
    report = contacts_import(
        b"number,consent_source,consent_date\n15162065575,paper,11/02/2025\n", user=None
    )
    assert report.rows[0].outcome == "created"
    assert ConsentEvent.objects.get().consented_at.date().isoformat() == "2025-11-02"


def upload_and_run(client, data: bytes, name: str = "contacts.csv"):
    upload = SimpleUploadedFile(name, data, content_type="text/csv")
    response = client.post(reverse("contacts:import"), {"file": upload})
    job = ContactImport.objects.get()
    assert response["Location"] == reverse("contacts:import_report", args=[job.pk])
    assert contact_import_run(job.pk) == "2 created, 0 updated, 0 unchanged, 6 skipped"
    return job


def test_the_import_page_shows_the_report_per_row(client, inbox_staff):
    client.force_login(inbox_staff)
    job = upload_and_run(client, MESSY)
    page = client.get(reverse("contacts:import_report", args=[job.pk])).content.decode()
    assert "2 created, 0 updated, 0 unchanged, 6 skipped." in page
    assert "duplicate of row 6" in page
    assert "not a valid number" in page
    assert Contact.objects.get(number="15162065575").created_by == inbox_staff
    job.refresh_from_db()
    assert (job.state, job.data, job.rows_read, job.rows_total) == ("done", b"", 8, 8)


def test_an_import_run_again_changes_nothing(client, inbox_staff):
    client.force_login(inbox_staff)
    job = upload_and_run(client, MESSY)
    assert contact_import_run(job.pk) == "nothing to do"
    assert Contact.objects.count() == 2
    assert ConsentEvent.objects.count() == 1


def test_while_it_runs_the_page_polls_a_progress_bar_and_stops_when_done(client, inbox_staff):
    client.force_login(inbox_staff)
    job = ContactImport.objects.create(
        state="running", rows_total=20_000, rows_read=5_000, started_at=timezone.now()
    )
    url = reverse("contacts:import_report", args=[job.pk])
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert page.lstrip().startswith('<section class="card import-report" id="import-status"')
    assert 'hx-trigger="every 1s, live:resume"' in page
    assert '<progress id="import-bar" max="20000" value="5000">25%</progress>' in page
    assert "5,000 of 20,000 rows read (25%)" in page
    assert "estimated finish" in page
    ContactImport.objects.filter(pk=job.pk).update(state="done", report=[[1, "5", "skipped", "x"]])
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in page
    assert "0 created, 0 updated, 0 unchanged, 1 skipped." in page


def test_an_import_whose_worker_died_for_good_says_so_and_stops_polling(client, inbox_staff):
    client.force_login(inbox_staff)
    upload = SimpleUploadedFile("contacts.csv", MESSY, content_type="text/csv")
    client.post(reverse("contacts:import"), {"file": upload})
    job = ContactImport.objects.get()
    url = reverse("contacts:import_report", args=[job.pk])
    assert "hx-trigger" in client.get(url).content.decode()
    ContactImport.objects.filter(pk=job.pk).update(state="running", rows_total=40, rows_read=10)
    task_given_up(job.task_id)
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Nothing was imported: the worker importing the file stopped before it finished" in page
    assert "hx-trigger" not in page
    assert not Contact.objects.exists()


def test_a_file_the_worker_cannot_read_says_why(client, inbox_staff):
    client.force_login(inbox_staff)
    job = ContactImport.objects.create(data=b"name\nAnn\n")
    assert contact_import_run(job.pk).startswith("not imported: No column of phone numbers")
    page = client.get(reverse("contacts:import_report", args=[job.pk])).content.decode()
    assert "Nothing was imported: No column of phone numbers was found." in page
    assert not Contact.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_task_worker_runs_an_uploaded_import(client):
    client.force_login(make_user("ines", "Inbox staff"))
    upload = SimpleUploadedFile("contacts.csv", MESSY, content_type="text/csv")
    client.post(reverse("contacts:import"), {"file": upload})
    assert run_tasks() == 1
    assert ContactImport.objects.get().state == "done"
    assert Contact.objects.count() == 2


def test_a_file_that_cannot_be_read_is_refused_whole(client, inbox_staff):
    client.force_login(inbox_staff)
    upload = SimpleUploadedFile(
        "contacts.csv", b"name,company\nAnn,Acme\n", content_type="text/csv"
    )
    page = client.post(reverse("contacts:import"), {"file": upload}).content.decode()
    assert "Nothing was imported: No column of phone numbers was found." in page
    assert not Contact.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(client, inbox_staff, monkeypatch):
    monkeypatch.setattr("contacts.forms.MAX_LIST_BYTES", 1_048_576)
    client.force_login(inbox_staff)
    data = b"number\n" + b"15162065575\n" * 100_000
    upload = SimpleUploadedFile("contacts.csv", data, content_type="text/csv")
    page = client.post(reverse("contacts:import"), {"file": upload}).content.decode()
    assert "The file is 1.1 MB; at most 1 MB can be read at once." in page
    assert not Contact.objects.exists()
