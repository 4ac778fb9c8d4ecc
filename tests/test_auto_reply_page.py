"""Configure → Auto-reply: one table of DIDs with their state, and one DID's form at a time, opened
in its row (htmx) or on the page (no JavaScript), with ids and labels of its own."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.urls import reverse

from messaging.models import AutoReply
from phone_numbers.models import Did
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PAGE = "/messaging/auto-reply/"
NUMBERS = ["15162065318", "15162065320", "15162065575"]


@pytest.fixture
def dids() -> list[Did]:
    made = [
        Did.objects.create(
            did_sid=f"sid-{n}", phonenumber=n, name=f"Line {i}", active_capabilities=7
        )
        for i, n in enumerate(NUMBERS)
    ]
    AutoReply.objects.create(
        did=made[1], enabled=True, template="Thanks, we got: {message}", min_interval_minutes=15
    )
    return made


@pytest.fixture
def admin(client):
    client.force_login(make_user("nora", "Number admins"))
    return client


def rows(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr id="auto-reply-(sid-\d+)"(.*?)</tr>', page, re.DOTALL))


def ids(page: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', page)


def test_the_page_is_one_table_with_a_row_per_did_and_its_state(admin, dids):
    page = admin.get(PAGE).content.decode()
    assert page.count("<table") == 1
    shown = rows(page)
    assert list(shown) == [d.did_sid for d in dids]
    on = shown["sid-15162065320"]
    assert 'data-state="on"' in on
    assert "“Thanks, we got: {message}”" in on
    assert "every 15 min" in on
    off = shown["sid-15162065318"]
    assert 'data-state="off"' in off and ">Off<" in off
    assert "<form" not in page.split("</table>")[0].split("<table")[1]  # no form until Edit
    assert page.count('>Edit<span class="visually-hidden"> auto-reply on') == len(dids)


def test_edit_without_javascript_opens_that_dids_form_on_the_page(admin, dids):
    did = dids[1]
    response = admin.get(reverse("messaging:auto_reply_save", args=[did.did_sid]))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<form") == 2  # this DID's, and sign out
    assert len(rows(page)) == len(dids)
    assert f"Auto-reply on {did.label}" in page
    assert 'value="Thanks, we got: {message}"' in page


def test_every_id_on_the_page_is_unique_and_every_label_points_at_its_own_field(admin, dids):
    pages = [admin.get(PAGE).content.decode()] + [
        admin.get(reverse("messaging:auto_reply_save", args=[d.did_sid])).content.decode()
        for d in dids
    ]
    field_ids = set()
    for page in pages:
        assert [i for i, n in Counter(ids(page)).items() if n > 1] == []
        for target in re.findall(r'<label for="([^"]+)"', page):
            assert f'id="{target}"' in page
            field_ids.add(target)
    # Each DID's fields have ids of their own, so clicking a label never focuses another's field.
    assert len({i for i in field_ids if i.startswith("auto-reply-")}) == 3 * len(dids)


def test_help_text_is_tied_to_its_field(admin, dids):
    page = admin.get(reverse("messaging:auto_reply_save", args=[dids[0].did_sid])).content.decode()
    field_id = f"auto-reply-{dids[0].pk}-template"
    assert f'aria-describedby="{field_id}_helptext"' in page
    assert f'<small class="helptext" id="{field_id}_helptext">' in page


def test_htmx_edit_returns_only_that_row_with_its_form(admin, dids):
    did = dids[0]
    response = admin.get(
        reverse("messaging:auto_reply_save", args=[did.did_sid]), HTTP_HX_REQUEST="true"
    )
    fragment = response.content.decode()
    assert fragment.strip().startswith(
        f'<tr id="auto-reply-{did.did_sid}" class="auto-reply-edit">'
    )
    assert "<html" not in fragment
    assert 'hx-target="closest tr"' in fragment


def test_htmx_save_returns_the_row_as_shown_and_says_so(admin, dids):
    did = dids[0]
    response = admin.post(
        reverse("messaging:auto_reply_save", args=[did.did_sid]),
        {"enabled": "on", "template": "Back soon!", "min_interval_minutes": 30},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert 'data-state="on"' in fragment and "“Back soon!”" in fragment
    assert '<div id="auto-reply-notice" hx-swap-oob="innerHTML">' in fragment
    assert "autofocus>Edit<" in fragment  # focus back on the row's Edit
    assert f"Auto-reply on {did.formatted} is on." in fragment
    assert AutoReply.objects.get(did=did).template == "Back soon!"


def test_htmx_save_with_an_error_keeps_the_form_open_with_the_error(admin, dids):
    response = admin.post(
        reverse("messaging:auto_reply_save", args=[dids[0].did_sid]),
        {"enabled": "on", "template": "", "min_interval_minutes": 30},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "auto-reply-edit" in fragment and "This field is required." in fragment
    assert not AutoReply.objects.filter(did=dids[0]).exists()


def test_cancel_brings_back_the_row_as_shown(admin, dids):
    response = admin.get(PAGE, {"did": dids[1].did_sid}, HTTP_HX_REQUEST="true")
    fragment = response.content.decode().strip()
    assert fragment.startswith('<tr id="auto-reply-sid-15162065320" data-state="on">')


def test_someone_without_the_role_sees_the_states_but_no_edit(client, dids):
    client.force_login(make_user("ines", "Inbox staff"))
    page = client.get(PAGE).content.decode()
    assert len(rows(page)) == len(dids)
    assert ">Edit<" not in page
    assert "Changing auto-replies needs the Number admins role." in page
