"""Signing in and sending from the Messaging page, with the status followed live in the browser."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from messaging.models import Message
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.browser.conftest import mark_page, sign_in, still_same_page
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
NEWEST_ROW = "#recent-messages tbody tr:first-child"


def test_signing_in_with_the_form_opens_the_messaging_page(page, sandbox):
    sign_in(page, make_user("sam", "Senders"))
    expect(page).to_have_url(re.compile(r"/messaging/$"))
    expect(page.get_by_role("heading", name="Messaging", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_staff_who_may_not_send_land_on_a_page_they_may_see_after_signing_in(
    page, sandbox, console_errors
):
    sign_in(page, make_user("ines", "Inbox staff"))
    expect(page).to_have_url(re.compile(re.escape(reverse("messaging:inbox")) + "$"))
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()


def test_a_sent_message_turns_delivered_in_recently_sent_without_a_reload(
    page, sandbox, worker, settings
):
    # One step every 0.2 s: slow enough to see queued → sent → delivered, fast enough for a test.
    settings.SANDBOX_STEP_SECONDS = 0.2
    numbers_sync()  # our DIDs in the portal's cache, for the From DID (pages never sync)
    sign_in(page, make_user("sam", "Senders"))

    page.get_by_label("From DID").select_option(MAIN_LINE)
    page.get_by_label("To DID").fill("+1 (516) 206-5574")
    page.get_by_label("Message").fill("Your table for two is ready. Reply STOP to opt out.")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("status")).to_contain_text("Sending to")
    newest = page.locator(NEWEST_ROW)
    expect(newest).to_contain_text("Your table for two is ready.")
    mark_page(page)
    expect(newest.locator("[data-status=delivered]")).to_be_visible(timeout=20_000)
    assert still_same_page(page), "the page reloaded; the status should arrive by htmx"
    expect(newest.locator("[data-status=delivered]")).to_have_text(re.compile("delivered", re.I))

    sent = Message.objects.get()
    assert (sent.our_number, sent.their_number, sent.status) == (
        MAIN_LINE,
        "15162065574",
        "delivered",
    )
    carried = SandboxMessage.objects.get(direction="outbound")
    assert (carried.from_number, carried.to_number, carried.status) == (
        MAIN_LINE,
        "15162065574",
        "delivered",
    )
