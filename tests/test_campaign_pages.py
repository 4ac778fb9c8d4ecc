"""The Campaigns pages: New campaign (form errors in the page), the preview's exact counts, Start,
the live progress and its poll cost, Pause/Resume/Cancel, the report and its CSV export, who may
use them, and the inbox's campaign tag."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Recipient
from contacts.models import Contact
from messaging.models import Direction, Message, OptOut, SavedReply, Status
from messaging.services.carrier_events import conversation_add_message
from phone_numbers.models import Did
from tests.conftest import make_user

DID = "15162065575"
OTHER_DID = "15162065576"
NO_SMS_DID = "15162065577"


@pytest.fixture
def dids(db):
    return [
        Did.objects.create(did_sid="d1", phonenumber=DID, active_capabilities=7, capabilities=7),
        Did.objects.create(
            did_sid="d2", phonenumber=OTHER_DID, active_capabilities=7, capabilities=7
        ),
        Did.objects.create(did_sid="d3", phonenumber=NO_SMS_DID, active_capabilities=1),
    ]


def number(i: int) -> str:
    return f"1212555{1000 + i:04d}"


def five_hundred_rows() -> tuple[bytes, list[str]]:
    """500 rows: 20 bad numbers, 15 duplicates of earlier rows, and 465 distinct good numbers, of
    which the caller opts 10 out. Returns the CSV and the 10 to opt out."""
    rows = ["First Name,Phone,Company"]
    good = [number(i) for i in range(465)]
    for i, n in enumerate(good):
        rows.append(f"Ann{i},+1 {n[1:4]}-{n[4:7]}-{n[7:]},Acme{i}")
    for i in range(20):
        rows.append(f"Bad{i},not-a-number-{i},Nowhere")
    for i in range(15):
        rows.append(f"Dup{i},{good[i * 3]},Again")  # the same number, written as digits
    assert len(rows) == 501
    return ("\n".join(rows) + "\n").encode(), good[100:110]


def csv_upload(data: bytes, name: str = "list.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def new_campaign(client, **fields):
    data = {
        "name": "Spring sale",
        "dids": [DID],
        "body": "Hi {first_name}, 20% off at {company} this week.",
        "when": "now",
        **fields,
    }
    return client.post(reverse("campaigns:new"), data)


def reasons_counted(campaign: Campaign) -> dict[str, int]:
    """The campaign's stored recipients by removal reason ("" for those to text)."""
    return dict(
        Recipient.objects.filter(campaign=campaign).values_list("reason").annotate(n=Count("id"))
    )


def test_the_500_row_list_previews_exactly_455_to_send_and_each_reason(sender_client, dids):
    data, opted = five_hundred_rows()
    for n in opted:
        OptOut.objects.create(
            customer_number=n, our_number=DID, keyword="STOP", changed_at=timezone.now()
        )
    response = new_campaign(sender_client, recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:preview", args=[campaign.pk])
    assert campaign.state == Campaign.State.DRAFT
    assert campaign.created_by.username == "sam"

    page = sender_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert '<p class="big-count" id="send-count"><strong>455</strong> recipients to text' in html
    assert "45 rows of the list will not be texted" in html
    for key, count in (("unparsable", 20), ("duplicate", 15), ("opted_out", 10)):
        assert f'<li id="removed-{key}">' in html
        assert f"<strong>{count}</strong>" in html.split(f'<li id="removed-{key}">')[1][:200]
    assert 'id="removed-our_did"' not in html and 'id="removed-over_cap"' not in html
    # Three texts as they will read, with their own variables.
    assert "Hi Ann0, 20% off at Acme0 this week." in html
    assert "Hi Ann2, 20% off at Acme2 this week." in html
    # 455 one-segment texts.
    assert '<dd id="segments-total">455 in all; 1 per text for most</dd>' in html
    assert reasons_counted(campaign) == {
        "": 455,
        "unparsable": 20,
        "duplicate": 15,
        "opted_out": 10,
    }


def test_the_link_to_removed_rows_lists_exactly_those_rows(sender_client, dids):
    data, _ = five_hundred_rows()
    new_campaign(sender_client, recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    page = sender_client.get(
        reverse("campaigns:report", args=[campaign.pk]) + "?status=removed_unparsable"
    )
    html = page.content.decode()
    assert html.count('<tr id="recipient-') == 20
    assert "not-a-number-7" in html and "Ann1," not in html


def test_the_cost_is_the_segments_times_the_price(sender_client, dids, settings):
    settings.SMS_PRICE_PER_SEGMENT = "0.0075"
    new_campaign(
        sender_client,
        body="Hello {phone}",
        numbers="+1 212 555 1000\n+1 212 555 1001, 2125551002",
    )
    campaign = Campaign.objects.get()
    html = sender_client.get(reverse("campaigns:preview", args=[campaign.pk])).content.decode()
    assert "<strong>3</strong> recipients to text" in html
    assert '<dd id="cost-total">$0.0225</dd>' in html


def test_the_preview_names_rows_with_an_empty_variable_and_texts_that_go_ucs2(sender_client, dids):
    data = (
        "first_name,phone\n"
        "Ann,+1 212 555 1000\n"
        ",+1 212 555 1001\n"
        "Zoë,+1 212 555 1002\n"
        "Бора,+1 212 555 1003\n"
    ).encode()
    new_campaign(sender_client, body="Hi {first_name}!", recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    html = sender_client.get(reverse("campaigns:preview", args=[campaign.pk])).content.decode()
    assert "1 recipient has an empty variable" in html
    assert "row 2, +1 212-555-1001: {first_name} empty" in html
    # Neither "ë" nor Cyrillic is in the GSM-7 alphabet: both texts go UCS-2, the others do not.
    assert "2 texts go UCS-2" in html
    assert "row 3, +1 212-555-1002: UCS-2 because of “ë”" in html
    assert "row 4, +1 212-555-1003: UCS-2 because of “Б”" in html


def test_the_preview_samples_name_the_recipients_who_are_contacts(sender_client, dids):
    Contact.objects.create(number="12125551000", name="Ann Lee")
    Contact.objects.create(number="12125551001", company="Initech")
    data = b"phone\n+1 212 555 1000\n+1 212 555 1001\n+1 212 555 1002\n"
    new_campaign(sender_client, body="Hello!", recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    html = sender_client.get(reverse("campaigns:preview", args=[campaign.pk])).content.decode()
    assert "To <strong>Ann Lee</strong> +1 212-555-1000 from" in html
    assert "To <strong>Initech</strong> +1 212-555-1001 from" in html
    assert "To <strong>+1 212-555-1002</strong> from" in html


ONE = "+1 212 555 1000"
LATER = {"numbers": ONE, "when": "later"}
REFUSALS = [
    pytest.param(
        {"recipients_file": csv_upload(b"name,company\nAnn,Acme\nBob,Initech\n")},
        "recipients_file",
        "No column of phone numbers was found",
        id="no-phone-column",
    ),
    pytest.param(
        {"recipients_file": csv_upload(b"")},
        "recipients_file",
        "The submitted file is empty",
        id="empty-file",
    ),
    pytest.param(
        {}, "recipients_file", "Upload a CSV file of recipients, or paste", id="no-numbers"
    ),
    pytest.param({"numbers": ONE, "dids": []}, "dids", "Pick at least one DID", id="no-did"),
    pytest.param(
        {"numbers": ONE, "dids": [NO_SMS_DID]},
        "dids",
        "is not one of our SMS numbers",
        id="did-without-sms",
    ),
    pytest.param(
        {**LATER, "start_at": "yesterday"}, "start_at", "Enter a date and a time", id="bad-time"
    ),
    pytest.param(
        {**LATER, "start_at": "2001-01-01T09:00"},
        "start_at",
        "That time has passed",
        id="past-time",
    ),
    pytest.param(
        {**LATER, "start_at": ""}, "start_at", "Pick the date and time to start", id="no-time"
    ),
    pytest.param(
        {"numbers": ONE, "quiet_start": "21:00"},
        "quiet_end",
        "Give both ends of the quiet hours",
        id="half-quiet-hours",
    ),
    pytest.param(
        {"numbers": ONE, "rate_per_did": "0"},
        "rate_per_did",
        "Enter a rate from 0.01 to 1000",
        id="zero-rate",
    ),
    pytest.param(
        {"numbers": ONE, "body": "Hi {first_name}"},
        "body",
        "The list has no column for {first_name}",
        id="unknown-variable",
    ),
]


@pytest.mark.parametrize(("fields", "field", "words"), REFUSALS)
def test_a_refused_form_says_why_next_to_the_field_and_stores_nothing(
    sender_client, dids, fields, field, words
):
    response = new_campaign(sender_client, **fields)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Nothing was saved: correct the fields marked below." in html
    form = response.context["form"]
    assert any(words in error for error in form.errors[field]), form.errors
    assert words.split("{")[0] in html
    assert ("Choose the CSV file again" in html) == ("recipients_file" in fields)
    assert not Campaign.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(sender_client, dids, monkeypatch):
    monkeypatch.setattr("campaigns.forms.MAX_LIST_BYTES", 100)
    response = new_campaign(
        sender_client, recipients_file=csv_upload(b"phone\n" + b"+1 212 555 1000\n" * 20)
    )
    assert response.status_code == 422
    assert "at most 0 MB" in response.context["form"].errors["recipients_file"][0]
    assert not Campaign.objects.exists()


def test_a_time_is_read_in_the_users_time_zone(sender_client, dids, sender):
    from portal.models import UserPreferences

    UserPreferences.objects.create(user=sender, time_zone="America/New_York")
    new_york = ZoneInfo("America/New_York")
    local = timezone.localtime(timezone.now() + timedelta(days=2), timezone=new_york).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    new_campaign(
        sender_client,
        numbers="+1 212 555 1000",
        body="Hello",
        when="later",
        start_at=local.strftime("%Y-%m-%dT%H:%M"),
    )
    campaign = Campaign.objects.get()
    assert campaign.start_at == local


def test_a_saved_reply_fills_the_message_without_javascript(sender_client, dids):
    reply = SavedReply.objects.create(name="Promo", body="Hi {first_name}, see you soon")
    page = sender_client.get(reverse("campaigns:new") + f"?saved_reply={reply.pk}")
    assert "Hi {first_name}, see you soon</textarea>" in page.content.decode()


def test_only_a_draft_can_be_edited_and_an_edit_without_a_file_keeps_the_list(sender_client, dids):
    data, _ = five_hundred_rows()
    new_campaign(sender_client, recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    response = sender_client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {
            "name": "Spring sale, capped",
            "dids": [DID, OTHER_DID],
            "body": "Hi {first_name}",
            "when": "now",
            "cap": "100",
        },
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Spring sale, capped"
    assert campaign.dids == [DID, OTHER_DID]
    recipients = Recipient.objects.filter(campaign=campaign)
    assert recipients.count() == 500
    assert recipients.filter(reason="").count() == 100
    assert recipients.filter(reason="over_cap").count() == 455 - 100 + 10  # no opt-outs now
    assert set(recipients.filter(reason="").values_list("our_number", flat=True)) == {
        DID,
        OTHER_DID,
    }
    services.campaign_pause(campaign)  # not a draft's action: nothing happens
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.RUNNING)
    response = sender_client.get(reverse("campaigns:edit", args=[campaign.pk]))
    assert response.status_code == 302 and response["Location"] == campaign.get_absolute_url()


def test_delete_draft_removes_it_and_its_rows_and_a_started_one_is_never_deleted(
    sender_client, dids
):
    new_campaign(sender_client, numbers="+1 212 555 1000", body="Hi")
    draft = Campaign.objects.get()
    assert sender_client.get(reverse("campaigns:delete", args=[draft.pk])).status_code == 200
    response = sender_client.post(reverse("campaigns:delete", args=[draft.pk]))
    assert response["Location"] == reverse("campaigns:list")
    assert not Campaign.objects.exists() and not Recipient.objects.exists()

    new_campaign(sender_client, numbers="+1 212 555 1000", body="Hi")
    running = Campaign.objects.get()
    Campaign.objects.filter(pk=running.pk).update(state=Campaign.State.RUNNING)
    sender_client.post(reverse("campaigns:delete", args=[running.pk]))
    assert Campaign.objects.filter(pk=running.pk).exists()


def test_start_queues_the_dispatcher_and_shows_the_campaign_page(sender_client, dids):
    from django_tasks_db.models import DBTaskResult

    new_campaign(sender_client, numbers="+1 212 555 1000\n+1 212 555 1001", body="Hello")
    campaign = Campaign.objects.get()
    response = sender_client.post(reverse("campaigns:start", args=[campaign.pk]))
    assert response["Location"] == campaign.get_absolute_url()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    assert DBTaskResult.objects.filter(task_path__endswith="campaign_dispatch_task").count() == 1
    page = sender_client.get(campaign.get_absolute_url())
    html = page.content.decode()
    assert '<progress id="campaign-bar" max="2" value="0">' in html
    assert ">Pause</button>" in html and "Cancel campaign" in html and ">Resume<" not in html
    # A second Start (a double click) queues nothing more.
    sender_client.post(reverse("campaigns:start", args=[campaign.pk]))
    assert DBTaskResult.objects.filter(task_path__endswith="campaign_dispatch_task").count() == 1


def test_a_scheduled_start_waits_for_its_time(sender_client, dids):
    start = timezone.localtime() + timedelta(hours=2)
    new_campaign(
        sender_client,
        numbers="+1 212 555 1000",
        body="Hello",
        when="later",
        start_at=start.strftime("%Y-%m-%dT%H:%M"),
    )
    campaign = Campaign.objects.get()
    sender_client.post(reverse("campaigns:start", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.SCHEDULED
    assert "starts" in sender_client.get(campaign.get_absolute_url()).content.decode()


def started(client, numbers: int = 4) -> Campaign:
    pasted = "\n".join(f"+{number(i)}" for i in range(numbers))
    new_campaign(client, numbers=pasted, body="Hello")
    campaign = Campaign.objects.get()
    client.post(reverse("campaigns:start", args=[campaign.pk]))
    campaign.refresh_from_db()
    return campaign


def send_one(recipient: Recipient, status: str) -> Message:
    message = Message.objects.create(
        direction=Direction.OUTBOUND,
        our_number=recipient.our_number,
        their_number=recipient.number,
        body="Hello",
        status=status,
        message_sid=f"sid-{recipient.pk}",
        price="0.0075",
        error="30006: unreachable" if status == Status.FAILED else "",
    )
    Recipient.objects.filter(pk=recipient.pk).update(state="messaged", message=message)
    conversation_add_message(message)
    return message


def test_the_progress_poll_counts_everything_in_one_or_two_queries(sender_client, dids):
    campaign = started(sender_client, numbers=6)
    first, second, third, fourth, fifth, _ = Recipient.objects.filter(campaign=campaign)
    send_one(first, Status.DELIVERED)
    send_one(second, Status.FAILED)
    send_one(third, Status.SENT)
    Recipient.objects.filter(pk=fourth.pk).update(state="opted_out")
    Recipient.objects.filter(pk=fifth.pk).update(not_before=timezone.now() + timedelta(hours=3))
    reply = Message.objects.create(
        direction=Direction.INBOUND,
        our_number=DID,
        their_number=first.number,
        body="Thanks!",
        status="received",
    )
    conversation_add_message(reply)
    url = campaign.get_absolute_url()
    sender_client.get(url, headers={"HX-Request": "true"})  # session and user read once
    with CaptureQueriesContext(connection) as queries:
        response = sender_client.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    expected = {
        "waiting": 1,
        "sent": 3,
        "delivered": 1,
        "failed": 1,
        "opted_out": 1,
        "cancelled": 0,
        "replies": 1,
        "held": 1,
    }
    for key, value in expected.items():
        assert f'<dd data-count="{key}">{value}</dd>' in html, key
    assert '<progress id="campaign-bar" max="6" value="4">' in html
    aggregates = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(aggregates) == 1
    campaign_reads = [q for q in queries.captured_queries if "campaigns_" in q["sql"]]
    # The campaign, its counts, and each DID's rate (this campaign has no rate of its own).
    assert len(campaign_reads) <= 2, [q["sql"] for q in campaign_reads]
    assert len(queries.captured_queries) <= 6, [q["sql"] for q in queries.captured_queries]


def test_the_poll_stops_once_the_campaign_is_over(sender_client, dids):
    campaign = started(sender_client)
    services.campaign_cancel(campaign)
    response = sender_client.get(campaign.get_absolute_url(), headers={"HX-Request": "true"})
    assert response.status_code == 286
    assert "hx-get" not in response.content.decode()


def test_pause_resume_and_cancel_show_only_when_they_apply(sender_client, dids):
    campaign = started(sender_client)
    url = campaign.get_absolute_url()
    response = sender_client.post(reverse("campaigns:pause", args=[campaign.pk]))
    assert response["Location"] == url
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED
    html = sender_client.get(url).content.decode()
    assert ">Resume</button>" in html and ">Pause</button>" not in html
    sender_client.post(reverse("campaigns:resume", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING

    confirm = sender_client.get(reverse("campaigns:cancel", args=[campaign.pk])).content.decode()
    assert "the <strong>4</strong> recipients still waiting will not be texted" in confirm
    assert campaign.state == Campaign.State.RUNNING  # asking is not cancelling
    response = sender_client.post(reverse("campaigns:cancel", args=[campaign.pk]), follow=True)
    assert "Cancelled: 4 recipients still waiting will not be texted." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.CANCELLED
    assert Recipient.objects.filter(campaign=campaign, state="cancelled").count() == 4
    html = sender_client.get(url).content.decode()
    assert ">Pause<" not in html and ">Resume<" not in html and "Cancel campaign" not in html


def test_the_report_lists_each_recipient_filters_by_status_and_pages(sender_client, dids):
    campaign = started(sender_client, numbers=5)
    rows = list(Recipient.objects.filter(campaign=campaign))
    send_one(rows[0], Status.DELIVERED)
    send_one(rows[1], Status.FAILED)
    url = reverse("campaigns:report", args=[campaign.pk])
    html = sender_client.get(url).content.decode()
    assert html.count('<tr id="recipient-') == 5
    assert f"<code>sid-{rows[0].pk}</code>" in html and "$0.0075" in html
    failed = sender_client.get(url + "?status=failed").content.decode()
    assert failed.count('<tr id="recipient-') == 1 and "30006: unreachable" in failed
    import campaigns.views

    campaigns.views.REPORT_PAGE_SIZE, size = 2, campaigns.views.REPORT_PAGE_SIZE
    try:
        first = sender_client.get(url)
        assert first.context["next_after"] == 2
        last = sender_client.get(url + "?after=4")
        assert [r.row for r in last.context["rows"]] == [5] and last.context["next_after"] is None
    finally:
        campaigns.views.REPORT_PAGE_SIZE = size


def test_the_csv_export_streams_every_recipient_with_their_variables(sender_client, dids):
    data = b"First Name,Phone\n=HYPERLINK(1),+1 212 555 1000\nBob,+1 212 555 1001\nBad,nope\n"
    new_campaign(sender_client, body="Hi {first_name}", recipients_file=csv_upload(data))
    campaign = Campaign.objects.get()
    sender_client.post(reverse("campaigns:start", args=[campaign.pk]))
    send_one(Recipient.objects.get(campaign=campaign, row=2), Status.DELIVERED)
    response = sender_client.get(reverse("campaigns:export", args=[campaign.pk]))
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    head = lines[0]
    assert head[:5] == ["row", "number", "as_written", "first_name", "phone"]
    by_row = {line[0]: dict(zip(head, line, strict=True)) for line in lines[1:]}
    assert by_row["1"]["first_name"] == "'=HYPERLINK(1)"  # never run as a formula
    assert by_row["2"]["status"] == "delivered" and by_row["2"]["price"] == "0.00750"
    assert by_row["3"]["status"] == "removed" and by_row["3"]["reason"] == "unparsable"
    assert len(lines) == 4


def test_the_list_shows_every_campaign_newest_first_with_counts(sender_client, dids):
    campaign = started(sender_client, numbers=3)
    send_one(Recipient.objects.filter(campaign=campaign).first(), Status.DELIVERED)
    new_campaign(sender_client, numbers="+1 212 555 1000", body="Hi", name="Second")
    html = sender_client.get(reverse("campaigns:list")).content.decode()
    assert html.index("Second") < html.index("Spring sale")
    row = html.split(f'<tr id="campaign-{campaign.pk}">')[1].split("</tr>")[0]
    assert '<td data-label="Sent">1</td>' in row
    assert '<td data-label="Delivered">1</td>' in row
    assert '<td data-label="Recipients">3</td>' in row


def test_an_empty_list_says_how_to_make_a_campaign(sender_client, dids):
    html = sender_client.get(reverse("campaigns:list")).content.decode()
    assert "No campaigns yet." in html and "New campaign" in html


@pytest.mark.parametrize("groups", [(), ("Inbox staff",), ("Number admins",)])
def test_whoever_may_not_send_gets_403_and_no_campaigns_in_the_nav(client, dids, groups):
    new_campaign_owner = make_user("owner", "Senders")
    campaign = Campaign.objects.create(
        name="X", body="Hi", dids=[DID], created_by=new_campaign_owner
    )
    client.force_login(make_user("viewer", *groups))
    for path in (
        reverse("campaigns:list"),
        reverse("campaigns:new"),
        reverse("campaigns:preview", args=[campaign.pk]),
        campaign.get_absolute_url(),
        reverse("campaigns:report", args=[campaign.pk]),
        reverse("campaigns:export", args=[campaign.pk]),
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Sending needs the Senders role" in response.content.decode()
    response = client.post(reverse("campaigns:start", args=[campaign.pk]))
    assert response.status_code == 403
    assert Campaign.objects.get().state == Campaign.State.DRAFT
    home = client.get(reverse("numbers:list")).content.decode()
    assert reverse("campaigns:list") not in home


def test_senders_see_campaigns_in_the_nav(sender_client, dids):
    html = sender_client.get(reverse("campaigns:list")).content.decode()
    assert f'<a href="{reverse("campaigns:list")}" aria-current="page">Campaigns</a>' in html


def test_no_such_campaign_is_a_404(sender_client, dids):
    assert sender_client.get(reverse("campaigns:detail", args=[999])).status_code == 404
    assert sender_client.get("/messaging/campaigns/99999999999999999999/").status_code == 404


def test_a_reply_from_a_campaign_recipient_is_tagged_in_the_inbox_with_one_query(client, dids):
    owner = make_user("owner", "Senders", "Inbox staff")
    client.force_login(owner)
    campaign = started(client, numbers=3)
    recipients = list(Recipient.objects.filter(campaign=campaign))
    for r in recipients:
        send_one(r, Status.DELIVERED)
    replier = recipients[0]
    conversation_add_message(
        Message.objects.create(
            direction=Direction.INBOUND,
            our_number=DID,
            their_number=replier.number,
            body="Yes please",
            status="received",
        )
    )
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("messaging:inbox")).content.decode()
    tag = f'href="{campaign.get_absolute_url()}"'
    row = html.split(f'id="conversation-{replier.number}"')[1].split("</tr>")[0]
    assert tag in row and "Spring sale" in row
    quiet = html.split(f'id="conversation-{recipients[1].number}"')[1].split("</tr>")[0]
    assert "Spring sale" not in quiet  # texted, never replied
    tag_queries = [q for q in queries.captured_queries if "campaigns_recipient" in q["sql"]]
    assert len(tag_queries) == 1
    thread = client.get(reverse("messaging:conversation", args=[replier.number])).content.decode()
    header = thread.split('<section class="card thread-card">')[0]
    assert tag in header and "Spring sale" in header


def test_a_number_admin_sets_a_dids_campaign_pace_on_its_page(client, dids):
    did = dids[0]
    client.force_login(make_user("nora", "Number admins"))
    url = reverse("numbers:send_rate", args=[did.did_sid])
    response = client.post(url, {"send_rate": "2.5"}, follow=True)
    html = response.content.decode()
    assert "Campaigns now send from +1 516-206-5575 at most 2.5 a second." in html
    assert '<dd data-field="send-rate">at most 2.50 messages a second</dd>' in html
    did.refresh_from_db()
    assert str(did.send_rate) == "2.50"
    for bad in ("0", "-1", "1001", "NaN", "Infinity", "abc", ""):
        response = client.post(url, {"send_rate": bad}, headers={"HX-Request": "true"})
        assert "Type a rate from 0.01 to 1000 messages a second." in response.content.decode()
    did.refresh_from_db()
    assert str(did.send_rate) == "2.50"


def test_only_number_admins_may_set_a_pace(sender_client, dids):
    response = sender_client.post(
        reverse("numbers:send_rate", args=[dids[0].did_sid]), {"send_rate": "50"}
    )
    assert response.status_code == 403
    dids[0].refresh_from_db()
    assert dids[0].send_rate == 1
    page = sender_client.get(dids[0].get_absolute_url()).content.decode()
    assert "Save pace" not in page


def test_campaigns_are_readable_in_django_admin_and_not_editable_there(client, dids):
    root = make_user("root", superuser=True)
    root.is_staff = True
    root.save()
    client.force_login(root)
    client.post(
        reverse("campaigns:new"),
        {"name": "Spring", "dids": [DID], "body": "Hi", "when": "now", "numbers": ONE},
    )
    campaign = Campaign.objects.get()
    for name in ("campaign", "recipient", "didpace"):
        assert client.get(reverse(f"admin:campaigns_{name}_changelist")).status_code == 200
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
