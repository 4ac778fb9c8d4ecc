"""A newcomer's first run of the sandbox (issue 12, *Sandbox and first run*): its token is printed
by `make run` and shown on the handset page, an API path it does not serve answers the carrier's
JSON 404, a refusal names the field the request used, and the handset page writes numbers as people
read them and appends only new messages to its live region."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from sandbox.models import SandboxMessage, SandboxPartner
from sandbox.seed import seed
from tests.test_runportal import Portal, clean_env, database, manage  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

HANDSET = "15162065574"
INBOUND_LINE = "15162065318"
MAIN_LINE = "15162065575"


@pytest.fixture
def partner(settings) -> SandboxPartner:
    settings.SANDBOX_STEP_SECONDS = 0
    return seed(sms_callback_url="https://portal.example.com/webhook/")


def bearer(settings) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {settings.CARRIERX_TOKEN}"}


# --- the token, where a newcomer looks ------------------------------------------------------------


def test_runportal_prints_the_sandbox_api_its_token_and_the_handset(
    database,  # noqa: F811  (the fixture imported above)
    tmp_path,
):
    manage("sandbox_seed", env=clean_env(database))
    portal = Portal(database, tmp_path / "runportal.log")
    try:
        portal.serving()
        check_the_printed_line(portal)
    finally:
        portal.close()


def check_the_printed_line(portal: Portal) -> None:
    output = portal.output()
    line = next(line for line in output.splitlines() if line.startswith("Sandbox API "))
    api, token, handset = re.fullmatch(
        r"Sandbox API (\S+) \(token (\S+)\); handset (\S+)", line
    ).groups()
    assert api == f"http://127.0.0.1:{portal.port}/sandbox/core/v2"
    assert handset == f"http://127.0.0.1:{portal.port}/sandbox/phone/"
    # The printed token is the one the running sandbox accepts, and only it.
    answer = requests.get(
        f"{api}/partners", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"][0]["partner_sid"]
    wrong = requests.get(
        f"{api}/partners", headers={"Authorization": f"Bearer {token}x"}, timeout=10
    )
    assert wrong.status_code == 401


def test_the_handset_page_shows_the_token_the_api_and_a_curl_to_try(
    staff_client, partner, settings
):
    page = staff_client.get(reverse("sandbox:phone")).content.decode()

    assert f'<code data-field="token">{settings.CARRIERX_TOKEN}</code>' in page
    assert f'<code data-field="api-url">{settings.CARRIERX_API_URL}</code>' in page
    assert (
        f'curl -H "Authorization: Bearer {settings.CARRIERX_TOKEN}" '
        f"{settings.CARRIERX_API_URL}/phonenumber/dids" in page
    )


# --- the carrier's JSON 404 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/sandbox/core/v2/anything"),
        ("post", "/sandbox/core/v2/sms/messages/abc/extra"),
        ("get", "/sandbox/core/v2/partners/"),
        ("delete", "/sandbox/core/v1/sms/messages"),
    ],
)
def test_an_api_path_the_sandbox_does_not_serve_answers_the_carriers_json_404(
    client, partner, settings, method, path
):
    settings.DEBUG = True  # where Django would answer its HTML page listing every URL pattern

    response = getattr(client, method)(path, **bearer(settings))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "message": "Not Found",
        "errors": [
            {
                "field": None,
                "message": f"no such route: {method.upper()} {path}",
                "reference_sid": None,
            }
        ],
    }
    assert b"URLconf" not in response.content


# --- refusals name the field the caller sent ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"from_did": "555", "to_did": HANDSET, "message": "Hi"}, ["from_did"]),
        ({"from_did": MAIN_LINE, "to_did": "abc", "message": "Hi"}, ["to_did"]),
        ({"from": "555", "to": HANDSET, "message": "Hi"}, ["from"]),
        ({"from": MAIN_LINE, "to": "abc", "message": "Hi"}, ["to"]),
        ({"from_did": HANDSET, "to_did": MAIN_LINE, "message": "Hi"}, ["from_did"]),
        ({"to_did": HANDSET, "message": "Hi"}, ["from_did"]),
    ],
)
def test_a_send_refusal_names_the_field_the_request_used(client, partner, settings, body, fields):
    response = client.post(
        reverse("sandbox:sms_messages"),
        data=json.dumps(body),
        content_type="application/json",
        **bearer(settings),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == fields
    assert not SandboxMessage.objects.exists()


def test_a_simulated_text_refusal_names_the_legacy_field_it_was_sent_under(
    client, partner, settings
):
    response = client.post(
        reverse("sandbox:simulate_inbound"),
        data=json.dumps({"from_did": HANDSET, "to_did": "15550000000", "message": "Hi"}),
        content_type="application/json",
        **bearer(settings),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["to_did"]


# --- the handset page -----------------------------------------------------------------------------


def text(message: str, *, handset: str = HANDSET, direction: str = "inbound") -> SandboxMessage:
    inbound = direction == "inbound"
    return SandboxMessage.objects.create(
        partner=SandboxPartner.objects.get(),
        direction=direction,
        status="received" if inbound else "queued",
        from_number=handset if inbound else MAIN_LINE,
        to_number=INBOUND_LINE if inbound else handset,
        message=message,
    )


def test_the_handset_page_writes_numbers_as_people_read_them(staff_client, partner):
    text("Hello", handset="15165550123")
    text("Answer", handset="15165550123", direction="outbound")

    page = staff_client.get(reverse("sandbox:phone"), {"handset": "15165550123"}).content.decode()

    assert "Conversation with +1 516-555-0123" in page
    assert "This handset → +1 516-206-5318" in page
    assert "+1 516-206-5575 → this handset" in page
    assert "+1 516-206-5318 (Inbound line)" in page  # the To DID choices
    assert ">+1 516-206-5574</a>" in page  # the other handsets


def poll(staff_client, **cursor) -> str:
    params = {"handset": HANDSET, "did": INBOUND_LINE, **cursor}
    response = staff_client.get(reverse("sandbox:phone"), params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def poll_url(fragment: str) -> dict:
    url = re.search(r'<div id="thread-poll" hx-get="([^"]+)"', fragment).group(1)
    return dict(pair.split("=", 1) for pair in url.split("?", 1)[1].split("&amp;"))


def test_the_thread_is_one_live_region_that_polls_append_to(staff_client, partner):
    first = text("First")

    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()

    region = re.search(r'<ol class="thread" id="thread-messages"[^>]*>', page).group(0)
    assert 'aria-live="polite"' in region and 'aria-relevant="additions"' in region
    handset = page[page.index('<div id="handset"') : page.index('class="card sandbox-api"')]
    assert handset.count("aria-live") == 1  # the page's own announcer aside, the thread alone
    cursor = poll_url(page)
    assert cursor["after"] == str(first.pk)
    assert 'hx-target="#thread-messages" hx-swap="beforeend"' in page


def test_a_poll_answers_only_the_messages_after_its_cursor(staff_client, partner):
    text("Old one")
    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()
    cursor = poll_url(page)
    newer = text("New one")

    fragment = poll(staff_client, after=cursor["after"], changed=cursor["changed"])

    assert "New one" in fragment
    assert "Old one" not in fragment
    assert fragment.count("<li ") == 1
    assert f'id="bubble-{newer.pk}"' in fragment
    assert "<form" not in fragment and 'id="thread"' not in fragment
    # The next poll starts after the new message.
    assert poll_url(fragment)["after"] == str(newer.pk)
    assert 'id="thread-poll"' in fragment and 'hx-swap-oob="true"' in fragment
    nothing_new = poll(staff_client, **poll_url(fragment))
    assert "<li " not in nothing_new


def test_a_status_change_updates_only_that_bubbles_status_text(staff_client, partner):
    sent = text("Reply", direction="outbound")
    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()
    cursor = poll_url(page)
    SandboxMessage.objects.filter(pk=sent.pk).update(
        status="delivered", date_changed=timezone.now() + timedelta(seconds=1)
    )

    fragment = poll(staff_client, **cursor)

    assert "<li " not in fragment
    assert f'<span hx-swap-oob="innerHTML:#bubble-{sent.pk} .status">delivered</span>' in fragment


def test_the_first_message_removes_the_nothing_yet_note(staff_client, partner):
    page = staff_client.get(reverse("sandbox:phone"), {"handset": HANDSET}).content.decode()
    assert 'id="thread-empty"' in page
    cursor = poll_url(page)
    assert cursor["after"] == "0"
    text("Hi")

    fragment = poll(staff_client, **cursor)

    assert '<p id="thread-empty" hx-swap-oob="delete"></p>' in fragment
    assert 'id="thread-empty"' not in poll(staff_client, **poll_url(fragment))
