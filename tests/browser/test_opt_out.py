"""Opt-out in the browser: after a customer texts STOP to a DID, the conversation says so and the
reply composer refuses to send to them from that DID."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import expect

from messaging.models import Direction, Message, OptOut
from phone_numbers.services import numbers_sync
from sandbox.models import SandboxMessage
from tests.browser.conftest import sign_in, text_our_did, wait_until
from tests.conftest import make_user

pytestmark = pytest.mark.browser

HANDSET = "15162065574"
INBOUND_LINE = "15162065318"
OFFER = "We miss you! 20% off this week."


@pytest.fixture
def refused_reply(page, sandbox, worker, live_server, console_errors):
    """The customer texted STOP to our Inbound line; staff open the conversation and try to
    answer from that DID anyway."""
    numbers_sync()  # our DIDs in the portal's cache, for the reply's From DID
    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="STOP")
    wait_until(lambda: OptOut.objects.filter(opted_out=True).exists(), what="the opt-out")
    conversation = reverse("messaging:conversation", args=[HANDSET])
    sign_in(page, make_user("ines", "Inbox staff"), then=conversation)

    block = page.get_by_role("status").filter(has_text="Opted out:")
    expect(block).to_contain_text("+1 516-206-5318")
    expect(block).to_contain_text("texted STOP")
    # The DID they opted out of is no longer preselected: none is, and the form says why.
    expect(page.get_by_label("From DID")).to_have_value("")
    expect(page.locator("#composer")).to_contain_text("They opted out of +1 516-206-5318")
    page.get_by_label("From DID").select_option(INBOUND_LINE)
    page.get_by_label("Message").fill(OFFER)
    # The refusal is a form error, answered 422: Chromium logs the failed request (and htmx 2,
    # while it treats a 4xx as an error, logs it too).
    console_errors.expect("status of 422")
    console_errors.expect("Response Status Error Code 422")
    with page.expect_response(lambda response: response.url.endswith("/reply/")):
        page.get_by_role("button", name="Send").click()
    return page


def test_nothing_is_sent_to_a_customer_who_texted_stop(refused_reply):
    wait_until(
        lambda: (
            not DBTaskResult.objects.ready().exists()
            and not Message.objects.filter(direction=Direction.OUTBOUND).exists()
        ),
        what="an idle worker",
    )
    expect(refused_reply.get_by_label("Message")).to_have_value(OFFER)
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert not SandboxMessage.objects.filter(direction="outbound").exists()


def test_the_composer_says_why_a_reply_to_an_opted_out_customer_was_refused(refused_reply):
    composer = refused_reply.locator("#composer")
    expect(composer).to_contain_text("Not sent:", timeout=3_000)
    expect(composer).to_contain_text("They can text START to opt back in.")
    expect(refused_reply.get_by_label("Message")).to_have_value(OFFER)
