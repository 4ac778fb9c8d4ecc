"""The sandbox POSTs callbacks only to the portal's own webhook and to hosts listed in
SANDBOX_CALLBACK_HOSTS; any other URL must reach only public addresses, however it is spelled.

Refusals are proved on the wire: the loopback spellings point at a real listening sink that must
receive nothing, and the attempt row says why. This machine has no outside network, so a public
destination is checked through the decision function itself.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging.models import CarrierEvent
from sandbox.callback_targets import callback_target
from sandbox.models import SandboxCallbackAttempt, SandboxDid
from sandbox.seed import seed as sandbox_seed
from tests.conftest import run_tasks

pytest_plugins = ["tests.callback_sink"]

OUR_DID = "15162065318"
HANDSET = "15162065574"
PUBLIC_URL = "http://127.0.0.1:8000"


def simulate_inbound(settings, text: str = "Where does this go?") -> dict:
    response = Client().post(
        reverse("sandbox:simulate_inbound"),
        data=json.dumps({"from": HANDSET, "to": OUR_DID, "message": text}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN,
    )
    assert response.status_code == 200, response.content
    return response.json()


def set_callback_through_the_api(settings, url: str) -> None:
    """As an attacker would: PATCH the DID over the sandbox's Core API with the public token."""
    did = SandboxDid.objects.get(phonenumber=OUR_DID)
    response = Client().patch(
        reverse("sandbox:did", args=[did.did_sid]),
        data=json.dumps({"callback_url": url}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + settings.CARRIERX_TOKEN,
    )
    assert response.status_code == 200, response.content


@pytest.fixture
def quiet_partner(db, settings):
    """A seeded sandbox whose partner has no callback of its own: only the DID's URL counts."""
    settings.SANDBOX_STEP_SECONDS = 0
    settings.SANDBOX_FAILURE_RATE = 0
    settings.PUBLIC_URL = PUBLIC_URL
    return sandbox_seed(sms_callback_url=None)


# Each URL, with {port} the port of a real sink on 127.0.0.1 that the sandbox must never reach,
# and a part of the reason the attempt row must record.
REFUSED = {
    "loopback by its address": ("http://127.0.0.1:{port}/hook", "loopback"),
    "localhost by name": ("http://localhost:{port}/hook", "localhost resolves to 127.0.0.1"),
    "the local database port by name": ("http://localhost:5432/", "loopback"),
    "loopback in hexadecimal": ("http://0x7f000001:{port}/", "non-standard spelling"),
    "loopback as one decimal number": ("http://2130706433:{port}/", "non-standard spelling"),
    "loopback in octal": ("http://0177.0.0.1:{port}/", "non-standard spelling"),
    "loopback shortened": ("http://127.1:{port}/", "non-standard spelling"),
    "IPv6 loopback": ("http://[::1]:{port}/", "loopback"),
    "loopback mapped into IPv6": ("http://[::ffff:127.0.0.1]:{port}/", "IPv6 form of 127.0.0.1"),
    "the unspecified address": ("http://0.0.0.0:{port}/", "unspecified"),
    "the cloud metadata endpoint": ("http://169.254.169.254/latest/meta-data", "metadata"),
    "the IPv6 cloud metadata endpoint": ("http://[fd00:ec2::254]/latest/meta-data", "metadata"),
    "a private class A address": ("http://10.0.0.1/", "private"),
    "a private class C address": ("http://192.168.1.1/", "private"),
    "a carrier-grade NAT address": ("http://100.64.0.1/", "CGNAT"),
    "a link-local address": ("http://169.254.1.1/", "link-local"),
    "a multicast address": ("http://224.0.0.1/", "multicast"),
    "a webhook path on another port of this machine": (
        "http://127.0.0.1:{port}/webhooks/carrierx/sandbox-webhook/",
        "loopback",
    ),
    "the webhook's path climbing out with dot segments": (
        PUBLIC_URL + "/webhooks/carrierx/../../admin/",
        "loopback",
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("url", "reason"), REFUSED.values(), ids=list(REFUSED))
def test_the_sandbox_never_calls_an_internal_address_however_it_is_spelled(
    settings, quiet_partner, start_callback_sink, caplog, url, reason
):
    sink = start_callback_sink(allowed=False)
    url = url.format(port=sink.url.rpartition(":")[2])
    set_callback_through_the_api(settings, url)

    with caplog.at_level(logging.WARNING, logger="sandbox.tasks"):
        simulate_inbound(settings)
        run_tasks()  # raises if the task failed: a refusal never escapes it

    assert sink.received == []
    [attempt] = SandboxCallbackAttempt.objects.all()
    assert (attempt.url, attempt.response_status) == (url, None)
    assert attempt.error.startswith("refused: ")
    assert reason in attempt.error
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "\n" not in refusals[0]


@pytest.mark.django_db(transaction=True)
def test_credentials_in_a_callback_url_are_never_sent_even_to_an_allowed_host(
    settings, quiet_partner, callback_sink
):
    host_port = callback_sink.host_port
    set_callback_through_the_api(settings, f"http://user:hunter2@{host_port}/with-credentials")

    simulate_inbound(settings)
    run_tasks()

    assert callback_sink.received == []
    [attempt] = SandboxCallbackAttempt.objects.all()
    assert attempt.error == "refused: credentials in the URL are never sent"
    # Nor kept where staff can read them.
    assert attempt.url == f"http://user:***@{host_port}/with-credentials"


@pytest.mark.django_db(transaction=True)
def test_a_redirect_is_recorded_as_the_answer_and_never_followed(
    settings, quiet_partner, start_callback_sink
):
    elsewhere = start_callback_sink(allowed=True)
    bouncer = start_callback_sink(allowed=True)
    bouncer.answer_status = 307  # the one redirect that would repeat the POST with its body
    bouncer.answer_headers = {"Location": elsewhere.url + "/landed"}
    set_callback_through_the_api(settings, bouncer.url + "/bounce")

    simulate_inbound(settings)
    run_tasks()

    assert bouncer.paths() == ["/bounce"]
    assert elsewhere.received == []
    [attempt] = SandboxCallbackAttempt.objects.all()
    assert (attempt.url, attempt.response_status, attempt.error) == (
        bouncer.url + "/bounce",
        307,
        "",
    )


@pytest.mark.django_db(transaction=True)
def test_an_allow_listed_host_receives_the_callback_without_any_credentials(
    settings, quiet_partner, callback_sink
):
    set_callback_through_the_api(settings, callback_sink.url + "/listed")

    sms = simulate_inbound(settings, "To the listed host")
    run_tasks()

    [(path, body)] = callback_sink.received
    assert (path, body["message_sid"], body["message"]) == (
        "/listed",
        sms["message_sid"],
        "To the listed host",
    )
    [headers] = callback_sink.headers
    assert "Authorization" not in headers
    assert headers["User-Agent"] == "carrierx-sandbox"
    assert SandboxCallbackAttempt.objects.get().response_status == 200


@pytest.mark.django_db(transaction=True)
def test_a_host_listed_for_another_port_is_refused(
    settings, quiet_partner, start_callback_sink, allow_callbacks_to
):
    sink = start_callback_sink(allowed=False)
    allow_callbacks_to("127.0.0.1:1")
    set_callback_through_the_api(settings, sink.url + "/wrong-port")

    simulate_inbound(settings)
    run_tasks()

    assert sink.received == []
    assert "loopback" in SandboxCallbackAttempt.objects.get().error


@pytest.mark.django_db(transaction=True)
def test_a_url_stored_with_a_line_break_is_refused_and_logged_on_one_line(
    settings, quiet_partner, caplog
):
    # The API refuses such a URL; the admin or an older version may have stored one.
    forged = "http://example.com/\nsandbox: delivered callback to http://example.com/ answered"
    SandboxDid.objects.filter(phonenumber=OUR_DID).update(callback_url=forged)

    with caplog.at_level(logging.WARNING, logger="sandbox.tasks"):
        simulate_inbound(settings)
        run_tasks()

    [line] = [r.getMessage() for r in caplog.records if r.name == "sandbox.tasks"]
    assert "\n" not in line and "refused" in line
    assert SandboxCallbackAttempt.objects.get().error.startswith("refused: ")


@pytest.mark.django_db(transaction=True)
def test_a_partner_callback_that_is_not_text_is_refused_not_a_failed_task(settings, quiet_partner):
    quiet_partner.callbacks = {"sms": 8080}
    quiet_partner.save()

    simulate_inbound(settings)
    run_tasks()  # raises if the task failed

    [attempt] = SandboxCallbackAttempt.objects.all()
    assert (attempt.url, attempt.error) == (
        "8080",
        "refused: only http:// and https:// URLs are called",
    )


@pytest.mark.django_db(transaction=True)
def test_the_portals_own_webhook_still_receives_callbacks_on_loopback(sandbox, settings):
    assert settings.PUBLIC_URL.startswith("http://localhost:") or settings.PUBLIC_URL.startswith(
        "http://127.0.0.1:"
    )
    assert settings.SANDBOX_CALLBACK_HOSTS == []  # nothing listed: the webhook is allowed itself

    sms = simulate_inbound(settings, "Home again")
    run_tasks()

    [attempt] = SandboxCallbackAttempt.objects.all()
    assert attempt.url.startswith(settings.PUBLIC_URL + "/webhooks/carrierx/")
    assert (attempt.response_status, attempt.error) == (200, "")
    assert CarrierEvent.objects.filter(message_sid=sms["message_sid"]).exists()


# --- The decision itself, for what this closed network cannot reach --------------------------


def test_a_public_address_is_called_at_the_checked_address_with_its_name_in_host():
    target = callback_target("http://8.8.8.8:8080/hook?x=1", public_url=PUBLIC_URL)
    assert (target.refused, target.url, target.headers) == (
        "",
        "http://8.8.8.8:8080/hook?x=1",
        {"Host": "8.8.8.8:8080"},
    )


def test_a_public_name_is_pinned_to_the_address_that_was_checked():
    def resolve(host, port, **kwargs):
        assert (host, port) == ("hooks.example.com", 80)
        return [(2, 1, 6, "", ("93.184.216.34", port))]

    target = callback_target("http://hooks.example.com/sms", public_url=PUBLIC_URL, resolve=resolve)
    assert (target.refused, target.url, target.headers) == (
        "",
        "http://93.184.216.34:80/sms",
        {"Host": "hooks.example.com"},
    )


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    def resolve(host, port, **kwargs):
        return [(2, 1, 6, "", ("93.184.216.34", port)), (2, 1, 6, "", ("10.1.2.3", port))]

    target = callback_target("https://mixed.example.com/", public_url=PUBLIC_URL, resolve=resolve)
    assert target.refused == "mixed.example.com resolves to 10.1.2.3, a private address"


def test_https_to_a_public_address_keeps_its_name_for_the_certificate():
    target = callback_target("https://1.1.1.1/hook", public_url=PUBLIC_URL)
    assert (target.refused, target.url, target.headers) == ("", "https://1.1.1.1/hook", {})


@pytest.mark.parametrize(
    ("entry", "url", "allowed"),
    [
        ("callbacks.internal", "http://callbacks.internal:9000/x", True),
        ("callbacks.internal:9000", "http://callbacks.internal:9000/x", True),
        ("callbacks.internal:9000", "http://callbacks.internal:9001/x", False),
        ("Callbacks.Internal", "http://callbacks.internal./x", True),
        ("[::1]:9000", "http://[::1]:9000/x", True),
        ("127.0.0.1:9000", "http://localhost:9000/x", False),
    ],
    ids=[
        "a bare host allows any port",
        "a host and port allows that port",
        "a host and port allows no other port",
        "names compare without case or trailing dot",
        "an IPv6 entry is written in brackets",
        "an address does not allow a name that resolves to it",
    ],
)
def test_the_allow_list_matches_hosts_as_written(entry, url, allowed):
    target = callback_target(url, public_url=PUBLIC_URL, allowed_hosts=[entry])
    assert (target.refused == "") is allowed


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9\\@example.com/", "backslashes"),
        ("http://example.com /", "spaces"),
        ("ftp://127.0.0.1:9/", "only http:// and https://"),
        ("http://[::1/", "cannot be parsed"),
        ("http://127.0.0.1:99999/", "cannot be parsed"),
        ("http:///no-host", "ambiguous"),
    ],
    ids=[
        "a backslash, where parsers disagree about the host",
        "a space",
        "a scheme other than http",
        "an unclosed IPv6 bracket",
        "a port out of range",
        "no host",
    ],
)
def test_a_url_the_sandbox_api_would_refuse_is_refused_at_firing_too(url, reason):
    # Rows stored before the API checked URLs, or written by hand in the admin, meet this check.
    assert reason in callback_target(url, public_url=PUBLIC_URL).refused


def test_the_own_webhook_rule_needs_the_public_urls_scheme_host_and_port():
    webhook = "/webhooks/carrierx/s3cret/"
    assert callback_target(PUBLIC_URL + webhook, public_url=PUBLIC_URL).refused == ""
    for other in ("https://127.0.0.1:8000", "http://127.0.0.1:8001", "http://localhost:8000"):
        assert callback_target(other + webhook, public_url=PUBLIC_URL).refused


@seed(20261129)
@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda scheme, host, rest: f"{scheme}://{host}{rest}",
            st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
            st.text(alphabet="0123456789abcdefx.:[]@%-", max_size=30),
            st.text(max_size=20),
        ),
    )
)
def test_no_url_makes_the_decision_raise_or_connect_inside(url):
    target = callback_target(url, public_url=PUBLIC_URL)
    if not target.refused and target.headers:
        # Allowed and pinned: the address it will connect to is public.
        host = target.url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
        assert callback_target(f"http://{host}/", public_url=PUBLIC_URL).refused == ""
