"""What Messaging tells a sender, in a real browser: a vanity number's digits before it is sent,
the "Sending to …" banner gone once the status is final, and a failed message's page saying why.
With SCREENSHOTS=1 it saves the failed message's page at desktop and phone width for the README:

    SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_send_feedback.py
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from messaging.models import Direction, Message, Status
from phone_numbers.sync import numbers_sync
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import load_fixture, make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
HANDSET = "15162065574"
PHONE = {"width": 390, "height": 844}


def test_a_vanity_number_is_sent_only_after_its_digits_were_shown(page, sandbox, console_errors):
    console_errors.expect("status of 422")  # the confirmation comes back with the form
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"))
    page.get_by_label("To DID").fill("1-800-FLOWERS")
    page.get_by_label("Message").fill("Roses for table 4, please.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("main form")).to_contain_text("1-800-FLOWERS is +1 800-356-9377.")
    assert not Message.objects.exists()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#sending-banner")).to_contain_text("Sending to +1 800-356-9377")
    assert Message.objects.get().their_number == "18003569377"


def test_the_sending_banner_goes_once_the_message_is_delivered(page, sandbox, worker, settings):
    settings.SANDBOX_STEP_SECONDS = 0.5
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"))
    page.get_by_label("To DID").fill("+1 516-206-5574")
    page.get_by_label("Message").fill("Your table for two is ready.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#sending-banner")).to_contain_text("Sending to +1 516-206-5574")
    newest = page.locator("#recent-messages tbody tr").first
    expect(newest.locator("[data-status=delivered]")).to_be_visible(timeout=20_000)
    expect(page.locator("#sending-banner")).to_have_count(0)


def test_a_failed_message_opened_from_recently_sent_says_why(page, live_server, settings):
    from phone_numbers.models import Did

    Did.objects.create(
        did_sid="d1", phonenumber=MAIN_LINE, name="Main line", capabilities=7, active_capabilities=7
    )
    sent = Message.objects.create(
        message_sid="097b49df-c54e-4eaf-97d0-89cf7d5a655b",
        direction=Direction.OUTBOUND,
        our_number=MAIN_LINE,
        their_number=HANDSET,
        body="Your order #1042 has shipped.",
        status=Status.QUEUED,
    )
    body = load_fixture("status_delivered")
    body.update(
        to=HANDSET,
        status="failed",
        price="0",
        error_message="Destination handset unreachable",
        vendor_error_code="30003",
    )
    webhook = reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
    answer = Client().post(webhook, json.dumps(body), content_type="application/json")
    assert answer.status_code == 200

    sign_in(page, make_user("sam", "Senders", "Inbox staff"))
    page.get_by_role("link", name="Your order #1042 has shipped.").click()
    expect(page).to_have_url(f"{live_server.url}/messaging/messages/{sent.pk}/?from=send")
    expect(page.locator("main")).to_contain_text("Why it failed")
    expect(page.locator("main")).to_contain_text("“Destination handset unreachable”")
    expect(page.locator(".mainnav [aria-current=page]")).to_have_text("Messaging")
    screenshot(page, "message-failed.png")
    page.set_viewport_size(PHONE)
    fits = page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    assert fits, "the failed message's page scrolls sideways at phone width"
    screenshot(page, "phone-message-failed.png")
    page.get_by_role("link", name="← Messaging").click()
    expect(page).to_have_url(f"{live_server.url}/messaging/")
