"""A tour of every main page with a few days' worth of traffic in place: each renders, its live
regions poll, and nothing breaks the Content-Security-Policy or throws in the console (the page
fixture's watch). With SCREENSHOTS=1 it also saves the README's screenshots to docs/screenshots/
(on port 8000, the webhook URLs on them read as under `make run`):

    SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_pages.py --liveserver 127.0.0.1:8000
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from messaging.models import Conversation, Direction, Message
from messaging.services.outbound import message_send
from phone_numbers.services import numbers_sync
from sandbox.models import SandboxMessage
from sandbox.seed import seeded_sid
from tests.browser.conftest import screenshot, sign_in, text_our_did, wait_until
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
INBOUND_LINE = "15162065318"
SUPPORT_1 = "15162065320"
SALES_1 = "15162065576"
HANDSET = "15162065574"
# (customer, our DID, what they texted)
INBOUND = [
    ("15162065590", SUPPORT_1, "My order #1042 has not arrived yet. Can you check?"),
    ("15162065591", SALES_1, "Do you deliver to Hempstead on Saturdays?"),
    ("15162065592", INBOUND_LINE, "STOP"),
    (HANDSET, INBOUND_LINE, "Do you have a table for two tonight at 8?"),
]
# (from our DID, to customer, text): a broadcast, then answers in two of the conversations
OUTBOUND = [
    (MAIN_LINE, "15162065593", "Appointment confirmed: Tue 10:30. Reply STOP to opt out."),
    (SUPPORT_1, "15162065590", "Sorry! Order #1042 left our warehouse today; tracking follows."),
    (INBOUND_LINE, HANDSET, "We do! A table for two at 8 pm is booked under this number."),
]


def wait_for_poll(page: Page, path: str) -> None:
    """Wait for one poll of the page's live region: htmx runs under the CSP and answers arrive."""
    with page.expect_response(lambda r: path in r.url and r.request.headers.get("hx-request")):
        pass


@pytest.fixture
def traffic(sandbox, worker, live_server, settings):
    """Inbound texts from four customers (one of them STOP), a sent message, and two replies,
    all carried by the sandbox and its callbacks through the real worker to delivered."""
    settings.SMS_PRICE_PER_SEGMENT = "0.0075"
    numbers_sync()
    for customer, did, text in INBOUND:
        text_our_did(live_server, handset=customer, did=did, message=text)
    wait_until(
        lambda: Message.objects.filter(direction=Direction.INBOUND).count() == len(INBOUND),
        what="the inbound texts",
    )
    sender = make_user("alex", "Senders", "Number admins", "Inbox staff")
    # Staff too: the tour ends on the sandbox's handset, which is for staff only.
    sender.is_staff = True
    sender.save(update_fields=["is_staff"])
    for did, customer, text in OUTBOUND:
        message_send(from_number=did, to=customer, body=text, user=sender)
    wait_until(
        lambda: Message.objects.filter(status="delivered").count() == len(OUTBOUND),
        what="the sent messages to be delivered",
    )
    return sender


def test_every_main_page_works_under_the_content_security_policy(page, traffic):
    sign_in(page, traffic)
    expect(page.get_by_role("heading", name="Messaging", exact=True)).to_be_visible()
    assert page.evaluate("htmx.config.allowEval") is False
    expect(page.locator("#recent-messages tbody tr")).to_have_count(len(OUTBOUND))
    expect(page.locator("#recent-messages [data-status=delivered]")).to_have_count(len(OUTBOUND))
    wait_for_poll(page, reverse("messaging:recent"))
    screenshot(page, "messaging.png")

    page.get_by_role("link", name="Inbox").click()
    expect(page.locator("#conversation-list .conversation-item")).to_have_count(5)
    wait_for_poll(page, reverse("messaging:inbox") + "?since=")
    screenshot(page, "inbox.png")

    page.get_by_role("link", name="+1 516-206-5574").click()
    expect(page.locator("#thread-rows .bubble")).to_have_count(2)
    expect(page.locator("#thread-rows .bubble.outbound [data-status=delivered]")).to_be_visible()
    page.get_by_label("Message").fill("See you at 8!")
    wait_for_poll(page, reverse("messaging:conversation", args=[HANDSET]) + "?since=")
    screenshot(page, "conversation.png")

    page.goto(reverse("messaging:conversation", args=["15162065592"]))
    expect(page.get_by_role("status").filter(has_text="Opted out:")).to_be_visible()

    page.get_by_role("link", name="Messages", exact=True).click()
    expect(page.locator("table.messages tbody tr")).to_have_count(len(INBOUND) + len(OUTBOUND))
    screenshot(page, "messages.png")
    page.locator("table.messages td.body a").first.click()
    expect(page.locator("main")).to_contain_text("delivered")

    page.get_by_role("link", name="Phone Numbers").click()
    expect(page.locator("table.numbers tbody tr")).to_have_count(12)
    screenshot(page, "phone-numbers.png")

    page.goto(reverse("numbers:detail", args=[seeded_sid("did", SUPPORT_1)]))
    expect(page.locator("#callback-panel [data-field=effective]")).to_contain_text("Partner")
    screenshot(page, "number-detail.png")
    page.goto(reverse("numbers:groups"))
    expect(page.get_by_role("link", name="Support")).to_be_visible()

    page.get_by_role("link", name="Global Settings → Callbacks").click()
    expect(page.locator("#callback-panel tr[data-kind=sms]")).to_contain_text(
        reverse("webhook", args=["sandbox-webhook"])
    )
    screenshot(page, "callbacks.png")

    page.get_by_role("link", name="Auto-reply").click()
    expect(page.get_by_role("heading", name="Auto-reply")).to_be_visible()

    page.get_by_role("link", name="Sandbox handset").click()
    expect(page.locator("#thread li.bubble")).to_have_count(2)
    expect(page.locator("#thread li[data-direction=outbound] .status")).to_have_text("delivered")
    wait_for_poll(page, reverse("sandbox:phone") + "?handset=")
    screenshot(page, "sandbox-phone.png")

    assert Conversation.objects.count() == 5
    assert SandboxMessage.objects.filter(status="delivered").count() == len(OUTBOUND)
