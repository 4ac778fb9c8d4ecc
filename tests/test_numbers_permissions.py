"""Everyone signed in may look at numbers, groups and callbacks; only Number admins (permission
`numbers.change_callbacks`) and superusers may change them. The views check it, not only the
templates."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from phone_numbers.models import CallbackChange, Did, DidGroup, Partner
from phone_numbers.sync import numbers_sync
from portal import carrierx
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxPartner

MAIN_LINE = "15162065575"
NEW_URL = "https://hooks.example.com/sms"


@pytest.fixture
def synced(sandbox, admin_client_) -> Did:
    numbers_sync()
    return Did.objects.get(phonenumber=MAIN_LINE)


@pytest.fixture
def viewer(sender) -> Client:
    client = Client()
    client.force_login(sender)
    return client


@pytest.fixture
def carrier_changes(monkeypatch) -> list[str]:
    """Every non-GET request the portal sends to the carrier."""
    sent: list[str] = []
    real = carrierx._session.request

    def spy(method, url, **kwargs):
        if method != "GET":
            sent.append(f"{method} {url}")
        return real(method, url, **kwargs)

    monkeypatch.setattr(carrierx._session, "request", spy)
    return sent


def change_requests(did: Did) -> list[tuple[str, dict]]:
    group = DidGroup.objects.get(name="Support")
    return [
        (reverse("numbers:did_callback", args=[did.did_sid]), {"callback_url": NEW_URL}),
        (reverse("numbers:did_callback", args=[did.did_sid]), {"action": "point"}),
        (reverse("numbers:did_callback", args=[did.did_sid]), {"action": "clear"}),
        (reverse("numbers:did_group", args=[did.did_sid]), {"did_group_sid": group.did_group_sid}),
        (reverse("numbers:group_callback", args=[group.did_group_sid]), {"callback_url": NEW_URL}),
        (reverse("numbers:partner_callback"), {"callback_url": NEW_URL}),
    ]


def carrier_state() -> tuple:
    return (
        list(SandboxDid.objects.values_list("did_sid", "callback_url", "did_group_id")),
        list(SandboxDidGroup.objects.values_list("did_group_sid", "callback_url")),
        list(SandboxPartner.objects.values_list("callbacks", flat=True)),
    )


def local_state() -> tuple:
    return (
        list(Did.objects.values_list("did_sid", "callback_url", "group_id")),
        list(DidGroup.objects.values_list("did_group_sid", "callback_url")),
        list(Partner.objects.values_list("callbacks", flat=True)),
    )


def test_everyone_signed_in_may_view_numbers_groups_and_callbacks(synced, viewer):
    group = DidGroup.objects.get(name="Support")
    for url in (
        "/numbers/",
        synced.get_absolute_url(),
        reverse("numbers:groups"),
        group.get_absolute_url(),
        reverse("numbers:partner_callbacks"),
    ):
        response = viewer.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert ">Edit<" not in page, url
        assert "Point at this portal" not in page, url
        assert 'name="did_group_sid"' not in page, url


def test_a_number_admin_sees_the_edit_controls(synced, admin_client_):
    page = admin_client_.get(synced.get_absolute_url()).content.decode()
    assert ">Edit<" in page
    assert "Point at this portal" in page
    assert 'name="did_group_sid"' in page


def test_signing_in_is_required_to_view(synced):
    for url in ("/numbers/", synced.get_absolute_url(), reverse("numbers:partner_callbacks")):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_sender_cannot_post_any_change(synced, viewer, carrier_changes):
    carrier_before, local_before = carrier_state(), local_state()

    for url, data in change_requests(synced):
        assert viewer.post(url, data).status_code == 403, url
        assert viewer.post(url, data, HTTP_HX_REQUEST="true").status_code == 403, url

    assert carrier_changes == []
    assert carrier_state() == carrier_before
    assert local_state() == local_before
    assert not CallbackChange.objects.exists()


def test_a_sender_cannot_open_the_edit_forms(synced, viewer):
    group = DidGroup.objects.get(name="Support")
    for url in (
        reverse("numbers:did_callback", args=[synced.did_sid]),
        reverse("numbers:group_callback", args=[group.did_group_sid]),
        reverse("numbers:partner_callback"),
    ):
        assert viewer.get(url).status_code == 403, url


def test_signed_out_posts_change_nothing(synced, carrier_changes):
    for url, data in change_requests(synced):
        assert Client().post(url, data).status_code == 302, url
    assert carrier_changes == []
    assert not CallbackChange.objects.exists()


def test_a_superuser_may_change_callbacks_without_the_role(synced):
    root = Client()
    root.force_login(User.objects.create_superuser("root", password="pw-root"))

    response = root.post(
        reverse("numbers:did_callback", args=[synced.did_sid]), {"callback_url": NEW_URL}
    )

    assert response.status_code == 302
    assert SandboxDid.objects.get(did_sid=synced.did_sid).callback_url == NEW_URL
    assert CallbackChange.objects.get().username == "root"


def test_the_webhook_secret_is_never_shown_to_people_who_cannot_edit(
    synced, viewer, admin_client_, settings
):
    secret = settings.CARRIERX_WEBHOOK_SECRET
    # The DID points here explicitly, so the secret URL sits in its own field and in the audit.
    admin_client_.post(reverse("numbers:did_callback", args=[synced.did_sid]), {"action": "point"})
    pages = [
        "/numbers/",
        synced.get_absolute_url(),
        reverse("numbers:partner_callbacks"),
    ]
    for url in pages:
        assert secret in admin_client_.get(url).content.decode(), url
        page = viewer.get(url).content.decode()
        assert secret not in page, url
        assert "this portal" in page, url
