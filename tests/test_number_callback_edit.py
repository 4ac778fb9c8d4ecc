"""A number's page: Edit → SMS Callback URL → Save, clear it, point it at this portal, move the
DID between groups; the DID Group and the Partner's callbacks likewise. Every change goes to the
sandbox carrier over real HTTP first and is stored only from its answer, and every attempt is
audited."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from messaging.services.outbound import message_send
from phone_numbers.models import CallbackChange, Did, DidGroup, Partner
from phone_numbers.sync import numbers_sync
from portal import carrierx
from portal.carrierx import get_client
from sandbox.models import SandboxCallbackAttempt, SandboxDid, SandboxDidGroup, SandboxPartner
from tests.conftest import run_tasks
from tests.netfaults import closed_port_url

pytest_plugins = ["tests.callback_sink"]

MAIN_LINE = "15162065575"
HANDSET = "15162065574"
NEW_URL = "https://hooks.example.com/carrierx/sms"


@pytest.fixture
def did(sandbox, admin_client_) -> Did:
    """The main line, as a sync has read it from the sandbox."""
    numbers_sync()
    return Did.objects.get(phonenumber=MAIN_LINE)


@pytest.fixture
def carrier_calls(monkeypatch) -> list[tuple[str, str, object]]:
    """Every request the portal makes to the carrier: (method, URL, JSON body)."""
    calls: list[tuple[str, str, object]] = []
    real = carrierx._session.request

    def spy(method, url, **kwargs):
        calls.append((method, url, kwargs.get("json")))
        return real(method, url, **kwargs)

    monkeypatch.setattr(carrierx._session, "request", spy)
    return calls


def changes_sent(calls) -> list[tuple[str, object]]:
    return [(url.rsplit("/core/v2/", 1)[1], body) for method, url, body in calls if method != "GET"]


def edit_url(did: Did) -> str:
    return reverse("numbers:did_callback", args=[did.did_sid])


def carrier_did(did: Did) -> dict:
    return get_client().get_did(did.did_sid)


@pytest.fixture
def failing_carrier():
    """A carrier that answers every request with HTTP 503."""

    class Handler(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            body = b'{"message": "service unavailable", "errors": []}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = do_POST = _fail

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/core/v2"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- Saving, clearing, pointing here ---------------------------------------------------------


def test_saving_a_callback_url_patches_the_carrier_and_stores_its_answer(
    did, admin_client_, carrier_calls
):
    response = admin_client_.post(edit_url(did), {"callback_url": NEW_URL})

    assert response.status_code == 302
    assert changes_sent(carrier_calls) == [
        (f"phonenumber/dids/{did.did_sid}", {"callback_url": NEW_URL})
    ]
    assert carrier_did(did)["callback_url"] == NEW_URL
    did.refresh_from_db()
    assert did.callback_url == NEW_URL
    assert did.raw["callback_url"] == NEW_URL
    page = admin_client_.get(did.get_absolute_url()).content.decode()
    assert NEW_URL in page
    assert 'data-source="DID"' in page


def test_the_next_sandbox_callback_for_that_did_goes_to_the_new_url(
    did, admin_client_, callback_sink
):
    admin_client_.post(edit_url(did), {"callback_url": callback_sink.url + "/main-line"})

    message = message_send(from_number=MAIN_LINE, to=HANDSET, body="x")
    run_tasks()
    message.refresh_from_db()

    newest = SandboxCallbackAttempt.objects.order_by("pk").last()
    assert newest.request_body["message_sid"] == message.message_sid
    assert newest.url == callback_sink.url + "/main-line"
    assert newest.response_status == 200
    received = callback_sink.bodies("/main-line")
    assert [body["status"] for body in received] == ["sent", "delivered"]
    assert {body["message_sid"] for body in received} == {message.message_sid}


def test_clearing_the_did_url_sends_null_and_the_partners_url_takes_effect(
    did, admin_client_, carrier_calls, settings
):
    admin_client_.post(edit_url(did), {"callback_url": NEW_URL})
    carrier_calls.clear()

    response = admin_client_.post(edit_url(did), {"action": "clear", "confirm": "yes"}, follow=True)

    assert changes_sent(carrier_calls) == [
        (f"phonenumber/dids/{did.did_sid}", {"callback_url": None})
    ]
    assert carrier_did(did)["callback_url"] is None
    did.refresh_from_db()
    assert did.callback_url == ""
    page = response.content.decode()
    assert "the SMS Callback URL is cleared" in page
    assert 'data-source="Partner"' in page


def test_saving_an_empty_field_clears_it_too(did, admin_client_):
    admin_client_.post(edit_url(did), {"callback_url": NEW_URL})
    admin_client_.post(edit_url(did), {"callback_url": "", "confirm": "yes"})
    assert carrier_did(did)["callback_url"] is None


def test_point_at_this_portal_sets_the_webhook_url_in_one_click(
    did, admin_client_, live_server, settings
):
    SandboxDid.objects.filter(did_sid=did.did_sid).update(callback_url="https://elsewhere.test/")
    admin_client_.post(reverse("numbers:sync"))
    assert "lost to us" in admin_client_.get(did.get_absolute_url()).content.decode()

    admin_client_.post(edit_url(did), {"action": "point"})

    webhook = live_server.url + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    assert carrier_did(did)["callback_url"] == webhook
    page = admin_client_.get(did.get_absolute_url()).content.decode()
    assert "lost to us" not in page
    assert "this portal" in page


def test_a_callback_url_of_exactly_2048_characters_is_accepted(did, admin_client_):
    url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    response = admin_client_.post(edit_url(did), {"callback_url": url})
    assert response.status_code == 302
    assert carrier_did(did)["callback_url"] == url


# --- htmx and the no-JavaScript fallback -------------------------------------------------------


def test_the_htmx_edit_button_swaps_in_only_the_form_panel(did, admin_client_):
    response = admin_client_.get(edit_url(did), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="callback-panel">')
    assert "<html" not in html
    assert 'name="callback_url"' in html
    assert f'hx-post="{edit_url(did)}"' in html
    assert 'hx-target="#callback-panel"' in html and 'hx-swap="outerHTML"' in html
    assert ">Save<" in html


def test_an_htmx_save_returns_only_the_panel_showing_the_new_url(did, admin_client_):
    response = admin_client_.post(edit_url(did), {"callback_url": NEW_URL}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "CarrierX accepted the new SMS Callback URL." in html
    assert NEW_URL in html
    assert 'name="callback_url"' not in html  # back to view mode
    assert carrier_did(did)["callback_url"] == NEW_URL


def test_an_htmx_save_of_a_bad_url_returns_the_panel_with_the_error(
    did, admin_client_, carrier_calls
):
    response = admin_client_.post(
        edit_url(did), {"callback_url": "ftp://example.com/sms"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert "<html" not in html
    assert 'class="errorlist' in html
    assert "Use an http:// or https:// URL" in html
    assert 'value="ftp://example.com/sms"' in html
    assert changes_sent(carrier_calls) == []


def test_without_javascript_the_edit_page_is_a_full_page_and_save_redirects(did, admin_client_):
    page = admin_client_.get(edit_url(did))
    assert "<html" in page.content.decode()
    assert 'name="callback_url"' in page.content.decode()

    response = admin_client_.post(edit_url(did), {"callback_url": NEW_URL})

    assert response.status_code == 302
    assert response["Location"] == did.get_absolute_url()
    shown = admin_client_.get(response["Location"]).content.decode()
    assert "CarrierX accepted the new SMS Callback URL." in shown


# --- Validation: refused here, never sent ------------------------------------------------------

TOO_LONG = "https://example.com/" + "a" * (2049 - len("https://example.com/"))


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("https://example.com/my hook", "A URL cannot contain spaces."),
        ("ftp://example.com/sms", "Use an http:// or https:// URL"),
        ("example.com/sms", "Use an http:// or https:// URL"),
        ("https:///sms", "Add the host the carrier should call"),
        ("http://", "Add the host the carrier should call"),
        ("https://example.com:99999/", "This is not a valid URL."),
        (TOO_LONG, "Use at most 2048 characters (this URL has 2049)."),
    ],
)
def test_a_bad_url_is_a_form_error_and_the_carrier_is_not_called(
    did, admin_client_, carrier_calls, typed, reason
):
    response = admin_client_.post(edit_url(did), {"callback_url": typed})

    assert response.status_code == 422
    assert reason in response.content.decode()
    assert changes_sent(carrier_calls) == []
    assert carrier_did(did)["callback_url"] is None
    did.refresh_from_db()
    assert did.callback_url == ""
    assert not CallbackChange.objects.exists()


# --- When the carrier says no -----------------------------------------------------------------


def test_a_carrier_refusal_changes_nothing_locally_and_shows_the_carriers_reason(
    did, admin_client_
):
    admin_client_.post(edit_url(did), {"callback_url": NEW_URL})
    # The carrier no longer knows this DID (released elsewhere); our cache still lists it.
    SandboxDid.objects.filter(did_sid=did.did_sid).delete()

    response = admin_client_.post(edit_url(did), {"callback_url": "https://other.example/"})

    assert response.status_code == 422
    assert "CarrierX refused the change: no item error: cannot find item by sid" in (
        response.content.decode()
    )
    did.refresh_from_db()
    assert did.callback_url == NEW_URL
    refused = CallbackChange.objects.first()
    assert refused.new_value == "https://other.example/"
    assert refused.carrier_answer == "no item error: cannot find item by sid (HTTP 404)"


def test_a_carrier_that_does_not_answer_in_time_leaves_the_old_value_and_says_so(
    did, admin_client_, settings, silent_server
):
    settings.CARRIERX_API_URL = silent_server
    settings.CARRIERX_TIMEOUT = (1.0, 0.5)

    response = admin_client_.post(edit_url(did), {"callback_url": NEW_URL}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "CarrierX did not answer in time; the callback URL was not changed." in html
    assert f'value="{NEW_URL}"' in html  # the form keeps what was typed, to try again
    did.refresh_from_db()
    assert did.callback_url == ""
    assert CallbackChange.objects.get().carrier_answer == "CarrierX did not answer in time"


def test_a_carrier_5xx_leaves_the_old_value_and_says_so(
    did, admin_client_, settings, failing_carrier
):
    settings.CARRIERX_API_URL = failing_carrier

    response = admin_client_.post(edit_url(did), {"callback_url": NEW_URL})

    html = response.content.decode()
    assert "the callback URL was not changed." in html
    assert "service unavailable (HTTP 503)" in html
    did.refresh_from_db()
    assert did.callback_url == ""


def test_an_unreachable_carrier_leaves_the_old_value_and_says_so(did, admin_client_, settings):
    settings.CARRIERX_API_URL = closed_port_url()

    response = admin_client_.post(edit_url(did), {"callback_url": NEW_URL})

    assert "CarrierX is unreachable (could not connect); the callback URL was not changed." in (
        response.content.decode()
    )
    did.refresh_from_db()
    assert did.callback_url == ""


# --- DID Groups --------------------------------------------------------------------------------


def test_the_group_select_moves_a_did_into_and_out_of_a_group(did, admin_client_, carrier_calls):
    support = DidGroup.objects.get(name="Support")
    group_url = reverse("numbers:did_group", args=[did.did_sid])

    response = admin_client_.post(group_url, {"did_group_sid": support.did_group_sid})

    assert response.status_code == 302
    assert carrier_did(did)["did_group_sid"] == support.did_group_sid
    did.refresh_from_db()
    assert did.group == support

    admin_client_.post(group_url, {"did_group_sid": ""})

    assert changes_sent(carrier_calls) == [
        (f"phonenumber/dids/{did.did_sid}", {"did_group_sid": support.did_group_sid}),
        (f"phonenumber/dids/{did.did_sid}", {"did_group_sid": None}),
    ]
    assert carrier_did(did)["did_group_sid"] is None
    did.refresh_from_db()
    assert did.group is None


def test_moving_into_a_group_the_carrier_does_not_know_is_refused_with_its_reason(
    did, admin_client_
):
    ghost = DidGroup.objects.create(did_group_sid="no-such-group", name="Ghost")

    response = admin_client_.post(
        reverse("numbers:did_group", args=[did.did_sid]),
        {"did_group_sid": ghost.did_group_sid},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert "CarrierX refused the change: object validation error: did_group_sid:" in html
    did.refresh_from_db()
    assert did.group is None


def test_a_groups_callback_url_is_edited_on_its_page(did, admin_client_, carrier_calls):
    support = DidGroup.objects.get(name="Support")

    response = admin_client_.post(
        reverse("numbers:group_callback", args=[support.did_group_sid]), {"callback_url": NEW_URL}
    )

    assert response.status_code == 302
    assert response["Location"] == support.get_absolute_url()
    assert changes_sent(carrier_calls) == [
        (f"phonenumber/did_groups/{support.did_group_sid}", {"callback_url": NEW_URL})
    ]
    assert get_client().get_did_group(support.did_group_sid)["callback_url"] == NEW_URL
    support.refresh_from_db()
    assert support.callback_url == NEW_URL
    assert NEW_URL in admin_client_.get(support.get_absolute_url()).content.decode()


# --- The Partner (Global Settings → Callbacks) -------------------------------------------------


def test_the_partners_sms_callback_is_changed_and_every_other_kind_is_sent_back_unchanged(
    did, admin_client_, carrier_calls
):
    partner = Partner.objects.get()

    response = admin_client_.post(reverse("numbers:partner_callback"), {"callback_url": NEW_URL})

    assert response.status_code == 302
    assert changes_sent(carrier_calls) == [
        (
            f"partners/{partner.partner_sid}",
            {"callbacks": {"phonenumber_order": "https://example.com/orders", "sms": NEW_URL}},
        )
    ]
    # The map was read from the carrier just before, not taken from our cache.
    assert ("GET", f"partners/{partner.partner_sid}") in [
        (method, url.rsplit("/core/v2/", 1)[1]) for method, url, _ in carrier_calls
    ]
    assert SandboxPartner.objects.get().callbacks == {
        "phonenumber_order": "https://example.com/orders",
        "sms": NEW_URL,
    }
    partner.refresh_from_db()
    assert partner.sms_callback_url == NEW_URL
    page = admin_client_.get(reverse("numbers:partner_callbacks")).content.decode()
    assert NEW_URL in page and "https://example.com/orders" in page


def test_a_callback_kind_added_at_the_carrier_since_the_last_sync_survives_a_partner_edit(
    did, admin_client_
):
    sandbox_partner = SandboxPartner.objects.get()
    sandbox_partner.callbacks["app_mediator"] = "https://example.com/mediator"
    sandbox_partner.save()

    admin_client_.post(reverse("numbers:partner_callback"), {"callback_url": NEW_URL})

    assert SandboxPartner.objects.get().callbacks == {
        "app_mediator": "https://example.com/mediator",
        "phonenumber_order": "https://example.com/orders",
        "sms": NEW_URL,
    }


def test_the_seeds_partner_patch_answers_200_with_the_partner_and_keeps_other_keys(
    sandbox, live_server, settings
):
    response = requests.patch(
        f"{live_server.url}/sandbox/core/v2/partners/{sandbox.partner_sid}",
        json={"callbacks": {"sms": "https://example.com/sms"}},
        headers={"Authorization": f"Bearer {settings.CARRIERX_TOKEN}"},
        timeout=10,
    )

    assert response.status_code == 200
    body = response.json()
    assert body["partner_sid"] == sandbox.partner_sid
    assert body["callbacks"] == {
        "phonenumber_order": "https://example.com/orders",
        "sms": "https://example.com/sms",
    }


# --- Audit -------------------------------------------------------------------------------------


def test_every_attempt_is_audited_with_who_what_old_new_and_the_carriers_answer(
    did, admin_client_, number_admin
):
    admin_client_.post(edit_url(did), {"callback_url": NEW_URL})
    SandboxDid.objects.filter(did_sid=did.did_sid).delete()
    admin_client_.post(edit_url(did), {"callback_url": "https://refused.example/"})

    refused, accepted = CallbackChange.objects.all()
    assert (accepted.user, accepted.username) == (number_admin, "nora")
    assert accepted.object_kind == "did"
    assert accepted.object_sid == did.did_sid
    assert accepted.label == "+1 516-206-5575"
    assert accepted.field == "callback_url"
    assert (accepted.old_value, accepted.new_value) == ("", NEW_URL)
    assert accepted.carrier_answer == "accepted"
    assert (refused.old_value, refused.new_value) == (NEW_URL, "https://refused.example/")
    assert refused.carrier_answer == "no item error: cannot find item by sid (HTTP 404)"

    page = admin_client_.get(did.get_absolute_url()).content.decode()
    history = page[page.index("<h3>History</h3>") :]
    assert history.count('class="change change-accepted"') == 1
    assert history.count('class="change change-refused"') == 1
    assert "no item error: cannot find item by sid" in history


def test_the_number_page_shows_the_changes_to_its_group_and_partner_too(did, admin_client_):
    support = DidGroup.objects.get(name="Support")
    admin_client_.post(reverse("numbers:did_group", args=[did.did_sid]), {"did_group_sid": ""})
    admin_client_.post(
        reverse("numbers:group_callback", args=[support.did_group_sid]),
        {"callback_url": "https://group.example/"},
    )
    admin_client_.post(
        reverse("numbers:partner_callback"), {"callback_url": "https://partner.example/"}
    )
    other = Did.objects.get(phonenumber="15162065576")
    admin_client_.post(edit_url(other), {"callback_url": "https://other-did.example/"})
    admin_client_.post(
        reverse("numbers:did_group", args=[did.did_sid]), {"did_group_sid": support.did_group_sid}
    )

    page = admin_client_.get(did.get_absolute_url()).content.decode()

    history = page[page.index("<h3>History</h3>") :]
    assert "https://group.example/" in history
    assert "https://partner.example/" in history
    assert "Support (" in history  # the move into the group
    assert "https://other-did.example/" not in history


def test_the_audit_is_read_only_in_django_admin(did, admin_client_):
    admin_client_.post(edit_url(did), {"callback_url": NEW_URL})
    change = CallbackChange.objects.get()
    superuser = User.objects.create_superuser("root", password="pw-root")
    admin = Client()
    admin.force_login(superuser)

    listing = admin.get(reverse("admin:numbers_callbackchange_changelist"))
    assert listing.status_code == 200
    assert NEW_URL in listing.content.decode()

    detail = admin.get(reverse("admin:numbers_callbackchange_change", args=[change.pk]))
    assert detail.status_code == 200
    assert 'name="new_value"' not in detail.content.decode()  # shown, not editable

    assert admin.get(reverse("admin:numbers_callbackchange_add")).status_code == 403
    edit = admin.post(
        reverse("admin:numbers_callbackchange_change", args=[change.pk]),
        {"new_value": "tampered", "carrier_answer": "accepted"},
    )
    assert edit.status_code == 403
    delete = admin.post(
        reverse("admin:numbers_callbackchange_delete", args=[change.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    change.refresh_from_db()
    assert change.new_value == NEW_URL


def test_a_group_edit_is_audited_against_the_group(did, admin_client_):
    support = SandboxDidGroup.objects.get()
    admin_client_.post(
        reverse("numbers:group_callback", args=[support.did_group_sid]),
        {"callback_url": NEW_URL},
    )
    change = CallbackChange.objects.get()
    assert (change.object_kind, change.object_sid, change.label) == (
        "group",
        support.did_group_sid,
        "Support",
    )
