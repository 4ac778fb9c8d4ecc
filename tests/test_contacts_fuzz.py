"""Nothing sent to the Contacts pages breaks them: the contact form (new and edit), the consent
form, "Add contact" from a conversation and the CSV import with fuzzed fields and real lists
mutated (columns removed, bytes damaged, cells oversized, odd encodings), search, paging and
contact ids in URLs never get a 5xx, and afterwards the list and every contact still render.

Seeded (same inputs every run); FORMS_FUZZ_EXAMPLES sets the examples per surface.
"""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from contacts.imports import contact_import_run
from contacts.models import Contact, ContactImport
from phone_numbers.models import Did
from tests.conftest import make_user
from tests.fuzz_values import FORM, damaged_file, form_data, fuzz_settings, url_parts, values

DID = "15162065575"
HEADER = ["Phone", "Name", "Company", "Tags", "Notes", "Consent Source", "Consent Date", "Size"]
ROWS = [
    ["+1 212-555-1000", "Ann", "Acme", "vip; a", "", "web form", "2026-01-05", "42"],
    ["(212) 555-1001", "Bob", "Initech", "b,c", "note", "", "", ""],
    ["2125551002", "Zoë", "Café Ltd", "", "", "paper", "11/02/2025", "7"],
    ["", "Nobody", "", "", "", "", "", ""],
    ["not a number", "Eve", "", "", "", "", "", ""],
    ["+1 212-555-1000", "Ann again", "", "", "", "x", "someday", ""],
]
CONTACT = {
    "number": "+1 212-555-0142",
    "name": "Ann Lee",
    "company": "Acme",
    "tags": "vip, wholesale",
    "notes": "Prefers texts",
    "extra_fields": "Account: 10442\nSize: 42",
}
CONSENT = {"our_number": DID, "kind": "opt_out", "reason": "asked on the phone"}


def answered(response) -> None:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    assert response.status_code < 500, response.status_code


@pytest.fixture
def staff(client, db) -> Client:
    Did.objects.create(did_sid="did-1", phonenumber=DID, capabilities=7, active_capabilities=7)
    client.force_login(make_user("ines", "Inbox staff"))
    return client


@pytest.fixture
def ann(db) -> Contact:
    return Contact.objects.create(number="12125550199", name="Ann")


def assert_contact_pages_render(client: Client) -> None:
    for url in ("/contacts/", "/contacts/new/", "/contacts/import/", "/contacts/?q=a"):
        assert client.get(url).status_code == 200, url
    for path in ("/contacts/export.csv", "/contacts/consent.csv"):
        response = client.get(path)
        answered(response)
        assert response.status_code == 200
    for job in ContactImport.objects.all()[:20]:
        response = client.get(f"/contacts/import/{job.pk}/")
        assert response.status_code == 200, job.pk
    for contact in Contact.objects.all()[:20]:
        for path in ("", "delete/", "consent.csv"):
            response = client.get(f"/contacts/{contact.pk}/{path}")
            answered(response)
            assert response.status_code == 200, (contact.pk, path)


@st.composite
def contact_lists(draw) -> bytes:
    keep = draw(st.lists(st.sampled_from(range(len(HEADER))), max_size=8, unique=True))
    keep = sorted(keep) or [0]
    rows = [HEADER, *ROWS] if draw(st.integers(0, 4)) else ROWS
    rows = [[row[i] for i in keep] for row in rows]
    if draw(st.integers(0, 3)) == 0:
        r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(keep) - 1))
        rows[r][c] = draw(
            st.sampled_from(["x" * 100_000, "9" * 5000, "é" * 20_000, '"', "\x00", "a\x00b"])
        )
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quote = draw(st.booleans())
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(
        delimiter.join(f'"{cell}"' if quote else cell for cell in row) for row in rows
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    return damaged_file(draw, data)


def multipart_file(field: bytes, filename: bytes, data: bytes) -> tuple[bytes, str]:
    boundary = b"fuzzboundary7MA4YWxkTrZu0gW"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
        b"Content-Type: text/csv\r\n\r\n%s\r\n" % (field, filename, data)
    )
    return body + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"


def test_the_contact_form_never_answers_5xx(staff, ann):
    @fuzz_settings()
    @given(body=form_data(CONTACT), edit=st.booleans())
    def post(body, edit):
        url = f"/contacts/{ann.pk}/" if edit else "/contacts/new/"
        answered(staff.generic("POST", url, body, FORM))

    post()
    assert_contact_pages_render(staff)


def test_add_contact_from_a_conversation_never_answers_5xx(staff, ann):
    @fuzz_settings()
    @given(body=form_data({"number": "15162065575"}))
    def post(body):
        answered(staff.generic("POST", "/contacts/add/", body, FORM))

    post()
    # Whatever was posted, a number has at most one contact, stored as E.164 digits.
    numbers = list(Contact.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
    assert all(n.isdigit() for n in numbers)
    assert_contact_pages_render(staff)


def test_the_consent_form_never_answers_5xx(staff, ann):
    @fuzz_settings()
    @given(body=form_data(CONSENT))
    def post(body):
        answered(staff.generic("POST", f"/contacts/{ann.pk}/consent/", body, FORM))

    post()
    assert_contact_pages_render(staff)


def test_mutated_contact_lists_never_answer_5xx(staff):
    @fuzz_settings()
    @given(upload=contact_lists(), filename=st.sampled_from([b"c.csv", b"", b"\xff.csv"]))
    def upload(upload, filename):
        content, content_type = multipart_file(b"file", filename, upload)
        response = staff.generic("POST", "/contacts/import/", content, content_type)
        answered(response)
        assert response.status_code in (200, 302, 400)

    upload()
    for job in ContactImport.objects.all():
        contact_import_run(job.pk)
        job.refresh_from_db()
        assert job.finished
    assert_contact_pages_render(staff)


def test_search_paging_prefill_and_ids_never_answer_5xx(staff, ann):
    routes = [
        ("GET", "/contacts/{}/"),
        ("GET", "/contacts/{}/delete/"),
        ("GET", "/contacts/{}/consent.csv"),
        ("POST", "/contacts/{}/consent/"),
        ("GET", "/contacts/import/{}/"),
    ]

    @fuzz_settings()
    @given(
        q=values("vip"),
        before=values("5"),
        number=values("+1 212-555-0142"),
        route=st.sampled_from(routes),
        pk=url_parts(str(ann.pk)),
    )
    def visit(q, before, number, route, pk):
        answered(staff.get(f"/contacts/?q={q}&before={before}"))
        answered(staff.get(f"/contacts/new/?number={number}"))
        method, template = route
        path = template.format(pk)
        answered(staff.get(path) if method == "GET" else staff.post(path))

    visit()
    assert_contact_pages_render(staff)
