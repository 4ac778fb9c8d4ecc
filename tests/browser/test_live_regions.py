"""What changes on a live page reaches a screen reader once: a status change in Messaging's
Recently sent, a new conversation in the inbox, a new message in an open conversation. A
MutationObserver records every text that appears inside an `aria-live` region, as a screen reader
would hear it; polls that bring the same rows again must add nothing."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from messaging.models import Conversation, Message
from phone_numbers.sync import numbers_sync
from tests.browser.conftest import sign_in, text_our_did, wait_until
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
INBOUND_LINE = "15162065318"
HANDSET = "15162065574"
EARLIER = ("15162065590", "15162065320", "My order #1042 has not arrived yet.")
# Text added inside a live region is what a screen reader says; a region that is itself inserted
# is not announced, so additions are counted by the region they land in.
LIVE_RECORDER = """
window.__announced = [];
new MutationObserver((mutations) => {
  for (const m of mutations) {
    const target = m.target.nodeType === 1 ? m.target : m.target.parentElement;
    const region = target?.closest("[aria-live]");
    if (!region || region.getAttribute("aria-live") === "off") continue;
    if (m.type === "characterData") {
      window.__announced.push(m.target.data.trim());
    } else {
      for (const node of m.addedNodes) {
        const text = node.textContent.trim();
        if (text) window.__announced.push(text);
      }
    }
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""
# Polls run every 2 s: three of them after an event show whether it is said again.
QUIET_MS = 6_500


def listen(page: Page) -> None:
    """From now on, record what the live regions say (what the page said while loading is not an
    announcement)."""
    page.evaluate("window.__announced = []")


def announced(page: Page) -> list[str]:
    return page.evaluate("window.__announced")


def assert_said_once(page: Page, text: str) -> list[str]:
    said = announced(page)
    assert [t for t in said if text in t] == [text], said
    repeated = [t for t, n in Counter(said).items() if n > 1]
    assert repeated == [], f"said more than once: {repeated}"
    return said


@pytest.fixture
def recorded_page(page: Page) -> Page:
    page.context.add_init_script(LIVE_RECORDER)
    return page


def test_a_status_change_in_recently_sent_is_announced_once(
    recorded_page, sandbox, worker, settings
):
    page = recorded_page
    settings.SANDBOX_STEP_SECONDS = 1
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"))
    page.get_by_label("From DID").select_option(MAIN_LINE)
    page.get_by_label("To DID").fill("+1 516-206-5574")
    page.get_by_label("Message").fill("Your table for two is ready.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash")).to_contain_text("Sending to +1 516-206-5574")
    listen(page)
    newest = page.locator("#recent-messages tbody tr").first
    expect(newest.locator("[data-status=delivered]")).to_be_visible(timeout=20_000)
    page.wait_for_timeout(QUIET_MS)
    said = assert_said_once(page, "Message to +1 516-206-5574: delivered")
    assert all(t.startswith("Message to +1 516-206-5574: ") for t in said), said
    expect(page.locator("#live-announcer")).to_contain_text("delivered")


def test_a_new_conversation_in_the_inbox_is_announced_once(
    recorded_page, sandbox, worker, live_server
):
    page = recorded_page
    handset, did, text = EARLIER
    text_our_did(live_server, handset=handset, did=did, message=text)
    wait_until(lambda: Conversation.objects.exists(), what="the earlier conversation")
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("messaging:inbox"))
    expect(page.locator("#conversation-list .conversation-item")).to_have_count(1)
    listen(page)
    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="A table for two?")
    expect(page.locator(f"#conversation-{HANDSET}")).to_be_visible(timeout=8_000)
    page.wait_for_timeout(QUIET_MS)
    said = assert_said_once(page, "New message from +1 516-206-5574: A table for two?")
    assert said == ["New message from +1 516-206-5574: A table for two?"]


def test_a_new_message_in_an_open_conversation_is_announced_once(
    recorded_page, sandbox, worker, live_server
):
    page = recorded_page
    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="A table for two?")
    wait_until(lambda: Message.objects.exists(), what="the first message")
    ines = make_user("ines", "Inbox staff")
    sign_in(page, ines, then=reverse("messaging:conversation", args=[HANDSET]))
    expect(page.locator("#thread-rows .bubble")).to_have_count(1)
    listen(page)
    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="At 8, if you can.")
    expect(page.locator("#thread-rows .bubble")).to_have_count(2, timeout=8_000)
    page.wait_for_timeout(QUIET_MS)
    said = assert_said_once(page, "New message from +1 516-206-5574: At 8, if you can.")
    assert said == ["New message from +1 516-206-5574: At 8, if you can."]


def test_the_character_counter_is_held_back_while_typing_and_released_on_a_pause(
    recorded_page, sandbox
):
    page = recorded_page
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"))
    counter = page.locator("#id_message-counter")
    expect(counter).to_have_attribute("aria-live", "polite")
    page.get_by_label("Message").press_sequentially("Hello there")
    expect(counter).to_have_attribute("aria-busy", "true")
    expect(counter).to_have_attribute("aria-busy", "false", timeout=3_000)
    page.get_by_label("Message").press_sequentially("a" * 150, delay=0)
    # 161 characters: a second segment, said as it happens.
    expect(counter).to_contain_text("2 segments")
    expect(counter).to_have_attribute("aria-busy", "false", timeout=500)
