"""Nothing sent to the Campaigns pages breaks them: the New campaign form with fuzzed fields, real
recipient lists mutated (columns removed, bytes damaged, cells oversized, odd encodings and
delimiters), read in the request or by the worker, and campaign ids and query strings in every
URL never get a 5xx, and afterwards every campaign's pages still render.

Seeded (same inputs every run); FORMS_FUZZ_EXAMPLES sets the examples per surface.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from campaigns.lists import campaign_list_read_run
from campaigns.models import Campaign, ListRead
from campaigns.recipients import read_csv, recipients_prepare
from phone_numbers.models import Did
from tests.conftest import make_user
from tests.fuzz_values import EXAMPLES, damaged_file, form_data, fuzz_settings, url_parts, values

DID = "15162065575"
HEADER = ["First Name", "Phone", "Company", "City"]
ROWS = [
    ["Ann", "+1 212-555-1000", "Acme", "New York"],
    ["Bob", "(212) 555-1001", "Initech", "Boston"],
    ["Zoë", "2125551002", "Café Ltd", "Montréal"],
    ["", "+44 20 7946 0958", "", ""],
    ["Eve", "not a number", "Acme", "Paris"],
    ["Ann", "+1 212-555-1000", "Acme", "New York"],
]


def answered(response) -> None:
    """No 5xx, including while a streamed answer (the CSV export) is read to its end."""
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    assert response.status_code < 500, response.status_code


@st.composite
def recipient_lists(draw) -> bytes:
    """A real list, changed the ways lists arrive: columns dropped, another delimiter, quoted,
    encoded as Excel or a phone would, a cell 100 KB long, bytes damaged or cut short."""
    keep = draw(st.lists(st.sampled_from(range(len(HEADER))), min_size=0, max_size=4, unique=True))
    keep = sorted(keep) or [1]
    rows = [HEADER, *ROWS] if draw(st.booleans()) else ROWS
    rows = [[row[i] for i in keep] for row in rows]
    if draw(st.integers(0, 4)) == 0:
        r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(keep) - 1))
        rows[r][c] = draw(st.sampled_from(["x" * 100_000, "9" * 5000, "é" * 20_000, '"', "\x00"]))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    quote = draw(st.booleans())
    lines = [delimiter.join(f'"{cell}"' if quote else cell for cell in row) for row in rows] + draw(
        st.sampled_from([[], [""], ["", ""], [delimiter * 3]])
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines)
    encoding = draw(
        st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-32"])
    )
    data = text.encode(encoding, errors="replace")
    return damaged_file(draw, data)


def multipart(fields: list[tuple[bytes, bytes]], upload: tuple[bytes, bytes] | None):
    """A multipart/form-data body written byte by byte: names and values exactly as given."""
    boundary = b"fuzzboundary7MA4YWxkTrZu0gW"
    parts = [
        b'Content-Disposition: form-data; name="%s"\r\n\r\n%s' % (name, value)
        for name, value in fields
    ]
    if upload is not None:
        filename, data = upload
        parts.append(
            b'Content-Disposition: form-data; name="recipients_file"; filename="%s"\r\n'
            b"Content-Type: text/csv\r\n\r\n%s" % (filename, data)
        )
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"


GOOD = {
    "name": "Spring sale",
    "dids": DID,
    "body": "Hi {first_name}, from {company}",
    "numbers": "+1 212 555 1003\n2125551004",
    "when": "now",
    "start_at": "2030-01-01T09:00",
    "rate_per_did": "2.5",
    "cap": "100",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
}


def fields_of(body: str) -> list[tuple[bytes, bytes]]:
    """An encoded `form_data` body as raw (name, value) byte pairs for a multipart form."""
    pairs = []
    for pair in body.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((unquote_to_bytes(name).replace(b'"', b""), unquote_to_bytes(value)))
    return pairs


@pytest.fixture
def sender(client, db) -> Client:
    Did.objects.create(did_sid="did-1", phonenumber=DID, capabilities=7, active_capabilities=7)
    client.force_login(make_user("sam", "Senders"))
    return client


def assert_campaign_pages_render(client: Client) -> None:
    assert client.get("/messaging/campaigns/").status_code == 200
    assert client.get("/messaging/campaigns/new/").status_code == 200
    for campaign in Campaign.objects.all()[:20]:
        for path in ("", "preview/", "report/", "report.csv", "cancel/"):
            response = client.get(f"/messaging/campaigns/{campaign.pk}/{path}", follow=True)
            answered(response)
            assert response.status_code == 200, (campaign.pk, path, response.status_code)


def test_the_new_campaign_form_never_answers_5xx(sender):
    @fuzz_settings()
    @given(body=form_data(GOOD), upload=st.none() | recipient_lists())
    def create(body, upload):
        content, content_type = multipart(
            fields_of(body), None if upload is None else (b"list.csv", upload)
        )
        answered(sender.generic("POST", "/messaging/campaigns/new/", content, content_type))

    create()
    assert_campaign_pages_render(sender)


def test_mutated_recipient_lists_never_answer_5xx_and_whatever_is_read_previews(sender):
    """The other fields good, so every list is read: a preview, or an error beside the file."""
    fields = [(k.encode(), v.encode()) for k, v in GOOD.items() if k not in ("numbers", "body")]
    fields.append((b"body", b"Hello {phone}"))

    @fuzz_settings()
    @given(upload=recipient_lists(), filename=st.sampled_from([b"list.csv", b"", b"\xff.csv"]))
    def upload_list(upload, filename):
        before = Campaign.objects.count()
        content, content_type = multipart(fields, (filename, upload))
        response = sender.generic("POST", "/messaging/campaigns/new/", content, content_type)
        answered(response)
        if response.status_code == 302:
            assert Campaign.objects.count() == before + 1
            answered(sender.get(response["Location"]))
        else:
            # 422: refused with a reason by the field; 400: a body the multipart parser refuses.
            assert response.status_code in (400, 422) and Campaign.objects.count() == before

    upload_list()
    assert_campaign_pages_render(sender)


def test_lists_left_to_the_worker_never_answer_5xx_and_their_pages_render(sender, monkeypatch):
    """Every list goes to the worker (the threshold at 0 rows): mutated files, some repeated
    into thousands of rows, with or without pasted numbers. The POST, the reading page before
    and after the worker's run, and the preview it lands on never answer 5xx; a list that
    cannot be read leaves no campaign behind."""
    monkeypatch.setattr("campaigns.forms.BACKGROUND_ROWS", 0)
    fields = [(k.encode(), v.encode()) for k, v in GOOD.items() if k not in ("numbers", "body")]
    fields.append((b"body", b"Hello {phone}"))

    @fuzz_settings()
    @given(
        upload=recipient_lists(),
        repeat=st.sampled_from([1, 1, 1, 40]),
        pasted=st.sampled_from([b"", b"+1 212 555 1003\n2125551004", b"\xff\xfe1\x002"]),
    )
    def upload_list(upload, repeat, pasted):
        campaigns = Campaign.objects.count()
        content, content_type = multipart(
            [*fields, (b"numbers", pasted)], (b"list.csv", upload * repeat)
        )
        response = sender.generic("POST", "/messaging/campaigns/new/", content, content_type)
        answered(response)
        if response.status_code != 302 or "/lists/" not in response["Location"]:
            return
        job = ListRead.objects.order_by("-pk").first()
        for headers in ({}, {"HX-Request": "true"}):
            answered(sender.get(response["Location"], headers=headers))
        campaign_list_read_run(job.pk)
        job.refresh_from_db()
        page = sender.get(response["Location"], follow=True)
        answered(page)
        assert page.status_code == 200
        if job.state == ListRead.State.FAILED:
            assert Campaign.objects.count() == campaigns
            assert "Nothing was changed: " in page.content.decode()
        else:
            assert page.redirect_chain[-1][0].endswith(f"/{job.campaign_id}/preview/")

    upload_list()
    assert_campaign_pages_render(sender)


def test_campaign_ids_and_query_strings_never_answer_5xx(sender):
    draft = Campaign.objects.create(name="Draft", body="Hi {first_name}", dids=[DID])
    recipients_prepare(draft, read_csv(b"first_name,phone\nAnn,+1 212 555 1000\nBob,nope\n"))
    running = Campaign.objects.create(
        name="Running", body="Hi", dids=[DID], state=Campaign.State.PAUSED
    )
    recipients_prepare(running, read_csv(b"phone\n+1 212 555 1000\n"))
    routes = [
        ("GET", "/messaging/campaigns/{}/", ""),
        ("GET", "/messaging/campaigns/{}/preview/", ""),
        ("GET", "/messaging/campaigns/{}/edit/", ""),
        ("GET", "/messaging/campaigns/{}/delete/", ""),
        ("GET", "/messaging/campaigns/{}/cancel/", ""),
        ("GET", "/messaging/campaigns/{}/report/", "status=failed&after=1"),
        ("GET", "/messaging/campaigns/{}/report.csv", "status=removed"),
        ("POST", "/messaging/campaigns/{}/pause/", ""),
        ("POST", "/messaging/campaigns/{}/resume/", ""),
    ]

    @fuzz_settings(EXAMPLES * 2)
    @given(
        data=st.data(),
        route=st.sampled_from(routes),
        good=st.sampled_from([str(draft.pk), str(running.pk)]),
        htmx=st.booleans(),
    )
    def visit(data, route, good, htmx):
        method, template, query = route
        path = template.format(data.draw(url_parts(good)))
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "GET":
            base = dict(pair.split("=") for pair in query.split("&")) if query else {}
            q = data.draw(form_data(base)) if base else ""
            answered(sender.get(f"{path}?{q}" if q else path, headers=headers))
        else:
            answered(sender.post(path, headers=headers))

    visit()

    @fuzz_settings()
    @given(before=values("5"))
    def older(before):
        answered(sender.get(f"/messaging/campaigns/?before={before}"))

    older()
    assert_campaign_pages_render(sender)


@fuzz_settings()
@given(rate=values("2.5"), htmx=st.booleans())
def test_a_fuzzed_campaign_pace_on_a_number_page_never_answers_5xx(db, rate, htmx):
    did = Did.objects.get_or_create(
        did_sid="pace-did", defaults={"phonenumber": DID, "capabilities": 3}
    )[0]
    client = Client()
    admin = User.objects.filter(username="nora").first() or make_user("nora", "Number admins")
    client.force_login(admin)
    url = reverse("numbers:send_rate", args=[did.did_sid])
    headers = {"HX-Request": "true"} if htmx else {}
    answered(client.post(url, {"send_rate": rate}, headers=headers))
    did.refresh_from_db()
    assert 0 < did.send_rate <= 1000
    assert client.get(did.get_absolute_url()).status_code == 200
