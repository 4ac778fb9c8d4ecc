"""The one rule for callback URLs: plain words for what is not a URL, refused (never cut) when too
long, and — outside sandbox mode — refused when the carrier, on the internet, could never reach
it, or when it carries a password nobody meant to send."""

from __future__ import annotations

import pytest
from django.urls import reverse

from phone_numbers.forms import CallbackURLForm
from phone_numbers.models import CallbackChange, Did
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxDid

LONG = "https://example.com/" + "a" * (3000 - len("https://example.com/"))


def errors(data: dict) -> list[str]:
    form = CallbackURLForm(data)
    assert not form.is_valid()
    return form.errors["callback_url"]


@pytest.fixture
def outside_sandbox(settings):
    settings.CARRIERX_SANDBOX = False


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:8000/sms", "it names this machine (localhost)"),
        ("http://api.localhost/sms", "it names this machine (localhost)"),
        ("http://127.0.0.1:8000/sms", "it is a loopback address"),
        ("http://127.1/sms", "it is a loopback address"),
        ("http://2130706433/sms", "it is a loopback address"),
        ("http://[::1]/sms", "it is a loopback address"),
        ("http://10.1.2.3/sms", "it is a private address"),
        ("http://172.16.0.9/sms", "it is a private address"),
        ("https://192.168.1.20/sms", "it is a private address"),
        ("http://[fd00::1]/sms", "it is a private address"),
        ("http://169.254.169.254/latest", "it is a link-local address"),
        ("http://[fe80::1]/sms", "it is a link-local address"),
        ("http://0.0.0.0:8000/sms", "0.0.0.0"),
        ("http://intranet/sms", "a name without a dot only works inside your network"),
    ],
)
def test_outside_sandbox_mode_an_address_the_carrier_can_never_reach_is_refused_with_why(
    outside_sandbox, url, reason
):
    [message] = errors({"callback_url": url})
    assert message.startswith("CarrierX can never reach ")
    assert reason in message


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/sms", "http://93.184.216.34:8080/sms", "https://x.io/a@b"]
)
def test_outside_sandbox_mode_public_addresses_are_accepted(outside_sandbox, url):
    form = CallbackURLForm({"callback_url": url})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["callback_url"] == url


def test_in_sandbox_mode_local_addresses_are_accepted(settings):
    settings.CARRIERX_SANDBOX = True
    assert CallbackURLForm({"callback_url": "http://127.0.0.1:9999/sms"}).is_valid()


def test_credentials_in_the_url_are_refused_until_the_box_is_ticked(outside_sandbox):
    url = "https://portal:s3cret@hooks.example.com/sms"
    [message] = errors({"callback_url": url})
    assert "holds a user name or password" in message
    assert "Tick the box below" in message
    assert "credentials_ok" in CallbackURLForm({"callback_url": url}).fields

    ticked = CallbackURLForm({"callback_url": url, "credentials_ok": "on"})
    assert ticked.is_valid(), ticked.errors


def test_not_a_url_gets_plain_words(settings):
    [message] = errors({"callback_url": "not a url"})
    assert message == (
        "This is not a web address. Type the address CarrierX should send texts to, "
        "e.g. https://example.com/sms."
    )


def test_a_url_too_long_is_refused_never_cut(settings):
    [message] = errors({"callback_url": LONG})
    assert message == "Use at most 2048 characters (this URL has 3000)."
    assert "maxlength" not in str(CallbackURLForm()["callback_url"])


def test_a_too_long_url_posted_to_a_number_is_refused_and_nothing_is_saved(sandbox, admin_client_):
    numbers_sync()
    did = Did.objects.get(phonenumber="15162065575")

    response = admin_client_.post(
        reverse("numbers:did_callback", args=[did.did_sid]), {"callback_url": LONG}
    )

    assert response.status_code == 422
    assert "Use at most 2048 characters (this URL has 3000)." in response.content.decode()
    assert SandboxDid.objects.get(did_sid=did.did_sid).callback_url is None
    assert not CallbackChange.objects.exists()


def test_outside_sandbox_mode_the_number_page_refuses_a_private_address(
    sandbox, admin_client_, settings
):
    numbers_sync()
    did = Did.objects.get(phonenumber="15162065575")
    settings.CARRIERX_SANDBOX = False

    response = admin_client_.post(
        reverse("numbers:did_callback", args=[did.did_sid]), {"callback_url": "http://10.0.0.7/"}
    )

    assert response.status_code == 422
    assert "CarrierX can never reach 10.0.0.7: it is a private address" in (
        response.content.decode()
    )
    assert SandboxDid.objects.get(did_sid=did.did_sid).callback_url is None
