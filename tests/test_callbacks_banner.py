"""When an SMS number's effective callback stops reaching this portal — say the carrier's own
tutorial PATCHed the partner's `callbacks.sms` elsewhere — the background re-read notices, number
admins (only they) see a banner on every page, and its one button puts things right at the
carrier."""

from __future__ import annotations

import pytest
import requests
from django.test import Client
from django.urls import reverse

from phone_numbers.models import CallbackChange, Did
from phone_numbers.sync import numbers_sync
from phone_numbers.tasks import numbers_sync_periodic
from sandbox.seed import PARTNER_SID, seeded_sid
from tests.conftest import make_user, run_tasks, sandbox_auth

ELSEWHERE = "https://tutorial-app.example.com/sms"
BANNER = 'id="callbacks-astray"'
MAIN_LINE = "15162065575"
VOICE_ONLY = ["15162065581", "15162065582"]


def carrier(live_server, method: str, path: str, **kwargs) -> dict:
    """The sandbox's Core API over HTTP, as a script outside the portal calls it."""
    response = requests.request(
        method,
        f"{live_server.url}/sandbox/core/v2/{path}",
        headers=sandbox_auth(),
        timeout=10,
        **kwargs,
    )
    response.raise_for_status()
    return response.json()


def background_reread() -> None:
    numbers_sync_periodic.enqueue()
    run_tasks()


@pytest.fixture
def admin(number_admin) -> Client:
    client = Client()
    client.force_login(number_admin)
    return client


@pytest.fixture
def sender_(sender) -> Client:
    client = Client()
    client.force_login(sender)
    return client


@pytest.fixture
def synced(sandbox):
    numbers_sync()
    return sandbox


def test_an_out_of_portal_patch_of_the_partner_shows_number_admins_a_banner_on_every_page(
    synced, live_server, admin, sender_
):
    assert BANNER not in admin.get(reverse("numbers:list")).content.decode()

    carrier(live_server, "PATCH", f"partners/{PARTNER_SID}", json={"callbacks": {"sms": ELSEWHERE}})
    background_reread()

    for url in (reverse("messaging:inbox"), reverse("numbers:groups"), reverse("numbers:list")):
        page = admin.get(url).content.decode()
        assert BANNER in page, url
        # Ten SMS numbers follow the partner; the two voice-only ones are not counted.
        assert "10 SMS numbers do not reach this portal." in page, url
        assert "Point them at this portal" in page, url
    assert BANNER not in sender_.get(reverse("messaging:send")).content.decode()
    assert BANNER not in sender_.get(reverse("numbers:list")).content.decode()


def test_the_banners_button_points_the_partner_back_at_this_portal_and_the_banner_goes(
    synced, live_server, admin, settings
):
    carrier(live_server, "PATCH", f"partners/{PARTNER_SID}", json={"callbacks": {"sms": ELSEWHERE}})
    background_reread()

    response = admin.post(reverse("numbers:callbacks_fix"), {"next": reverse("messaging:inbox")})

    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:inbox")
    webhook = live_server.url + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    callbacks = carrier(live_server, "GET", f"partners/{PARTNER_SID}")["callbacks"]
    assert callbacks["sms"] == webhook
    assert callbacks["phonenumber_order"] == "https://example.com/orders"  # left as it was
    # One change, at the partner: every number followed it, none needed its own URL.
    change = CallbackChange.objects.get()
    assert (change.object_kind, change.old_value, change.new_value) == (
        "partner",
        ELSEWHERE,
        webhook,
    )
    page = admin.get(response["Location"]).content.decode()
    assert BANNER not in page
    assert "Every SMS number&#x27;s callback now reaches this portal." in page


def test_a_number_with_its_own_url_elsewhere_is_fixed_on_the_number_not_the_partner(
    synced, live_server, admin, settings
):
    main = seeded_sid("did", MAIN_LINE)
    carrier(live_server, "PATCH", f"phonenumber/dids/{main}", json={"callback_url": ELSEWHERE})
    background_reread()
    assert "1 SMS number does not reach this portal." in admin.get("/numbers/").content.decode()

    admin.post(reverse("numbers:callbacks_fix"))

    webhook = live_server.url + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    assert carrier(live_server, "GET", f"phonenumber/dids/{main}")["callback_url"] == webhook
    assert [(c.object_kind, c.object_sid) for c in CallbackChange.objects.all()] == [("did", main)]
    assert BANNER not in admin.get("/numbers/").content.decode()


def test_voice_only_numbers_pointing_elsewhere_raise_no_banner(synced, live_server, admin):
    for number in VOICE_ONLY:
        did_sid = seeded_sid("did", number)
        carrier(
            live_server, "PATCH", f"phonenumber/dids/{did_sid}", json={"callback_url": ELSEWHERE}
        )
    background_reread()

    assert Did.objects.filter(callback_url=ELSEWHERE).count() == 2
    page = admin.get("/numbers/").content.decode()
    assert BANNER not in page
    assert "going elsewhere" not in page  # nor the list's own warning


def test_a_sender_cannot_press_the_fix(synced, live_server, sender_):
    carrier(live_server, "PATCH", f"partners/{PARTNER_SID}", json={"callbacks": {"sms": ELSEWHERE}})
    background_reread()

    response = sender_.post(reverse("numbers:callbacks_fix"))

    assert response.status_code == 403
    assert carrier(live_server, "GET", f"partners/{PARTNER_SID}")["callbacks"]["sms"] == ELSEWHERE


def test_the_callbacks_page_says_when_it_was_read_and_can_sync(synced, live_server, admin):
    carrier(live_server, "PATCH", f"partners/{PARTNER_SID}", json={"callbacks": {"sms": ELSEWHERE}})
    page = admin.get(reverse("numbers:partner_callbacks")).content.decode()
    assert "Read from CarrierX" in page
    assert ELSEWHERE not in page  # not read yet: the page shows its copy, and says how old

    response = admin.post(reverse("numbers:sync"), {"next": reverse("numbers:partner_callbacks")})

    assert response["Location"] == reverse("numbers:partner_callbacks")
    assert ELSEWHERE in admin.get(response["Location"]).content.decode()


def test_a_superuser_sees_the_banner_too(synced, live_server):
    carrier(live_server, "PATCH", f"partners/{PARTNER_SID}", json={"callbacks": {"sms": ELSEWHERE}})
    background_reread()
    root = Client()
    root.force_login(make_user("root", superuser=True))
    assert BANNER in root.get(reverse("messaging:send")).content.decode()


def test_the_fix_refuses_a_webhook_address_the_carrier_could_never_reach(
    synced, live_server, admin, settings
):
    carrier(live_server, "PATCH", f"partners/{PARTNER_SID}", json={"callbacks": {"sms": ELSEWHERE}})
    background_reread()
    settings.CARRIERX_SANDBOX = False  # a real carrier cannot call the live server's localhost

    page = admin.post(reverse("numbers:callbacks_fix"), follow=True).content.decode()

    assert "cannot be used: CarrierX can never reach localhost: it names this machine" in page
    assert carrier(live_server, "GET", f"partners/{PARTNER_SID}")["callbacks"]["sms"] == ELSEWHERE
    assert not CallbackChange.objects.exists()
