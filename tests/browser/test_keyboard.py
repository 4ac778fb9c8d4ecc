"""Sending and replying with the keyboard alone (Tab, Shift+Tab, Enter, typing), and focus landing
where the user expects after each: on the confirmation after Send, back in the message box after a
reply, with the reply announced."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from messaging.models import Message
from phone_numbers.sync import numbers_sync
from tests.browser.conftest import sign_in, text_our_did, wait_until
from tests.browser.test_live_regions import LIVE_RECORDER, announced, listen
from tests.conftest import make_user

pytestmark = pytest.mark.browser

HANDSET = "15162065574"
INBOUND_LINE = "15162065318"
# What has focus, as a person hears it: the field's name or the control's text.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "body";
  return e.name ? `${e.tagName.toLowerCase()}[name=${e.name}]`
                : `${e.tagName.toLowerCase()}:${e.textContent.trim().slice(0, 40)}`;
}"""


def focused(page: Page) -> str:
    return page.evaluate(FOCUSED)


def tab_to(page: Page, wanted: str, *, key: str = "Tab", limit: int = 40) -> None:
    """Press Tab (or Shift+Tab) until `wanted` has focus: it is reachable from the keyboard."""
    passed = []
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        if now == wanted:
            return
        passed.append(now)
    pytest.fail(f"{wanted} never took focus; Tab went through {passed}")


def test_a_message_is_sent_with_the_keyboard_alone_and_focus_lands_on_the_confirmation(
    page, sandbox
):
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"))
    page.goto(reverse("messaging:send"))
    page.keyboard.press("Tab")
    assert focused(page) == "a:Skip to content"
    page.keyboard.press("Enter")
    tab_to(page, "input[name=to_did]")
    page.keyboard.type("+1 516-206-5574")
    tab_to(page, "textarea[name=message]")
    page.keyboard.type("Your table for two is ready.")
    tab_to(page, "button:Send")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    confirmation = page.locator(".flash li")
    expect(confirmation).to_contain_text("Sending to +1 516-206-5574")
    expect(confirmation).to_be_focused()
    # The next Tab goes on into the composer, ready for the next message.
    page.keyboard.press("Tab")
    assert focused(page) == "select[name=from_did]"
    assert Message.objects.get().body == "Your table for two is ready."


def test_a_send_with_a_mistake_puts_focus_on_the_field_to_correct(page, sandbox, console_errors):
    console_errors.expect("status of 422")  # the form comes back with its errors
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"))
    page.goto(reverse("messaging:send"))
    tab_to(page, "input[name=to_did]")
    page.keyboard.type("not a number")
    tab_to(page, "textarea[name=message]")
    page.keyboard.type("Hello")
    page.keyboard.press("Tab")
    assert focused(page) == "button:Send"
    page.keyboard.press("Enter")
    expect(page.get_by_label("To DID")).to_be_focused()
    expect(page.get_by_label("To DID")).to_have_attribute("aria-invalid", "true")


def test_a_reply_is_sent_with_the_keyboard_alone_and_focus_returns_to_the_message_box(
    page, sandbox, worker, live_server
):
    page.context.add_init_script(LIVE_RECORDER)
    numbers_sync()
    text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message="A table for two?")
    wait_until(lambda: Message.objects.exists(), what="the customer's text")
    sign_in(page, make_user("ines", "Inbox staff", "Senders"))
    page.goto(reverse("messaging:conversation", args=[HANDSET]))
    listen(page)
    tab_to(page, "textarea[name=message]")
    page.keyboard.type("Yes, at 8.")
    page.keyboard.press("Shift+Tab")  # back past the From DID, then forward again
    assert focused(page) == "select[name=from_did]"
    tab_to(page, "button:Send")
    page.keyboard.press("Enter")
    reply = page.locator("#thread-rows .bubble.outbound", has_text="Yes, at 8.")
    expect(reply).to_be_visible(timeout=8_000)
    message_box = page.get_by_label("Message")
    expect(message_box).to_be_focused()
    expect(message_box).to_have_value("")
    expect(page.locator("#live-announcer")).to_contain_text(
        "Sent to +1 516-206-5574 from +1 516-206-5318: Yes, at 8."
    )
    said = [t for t in announced(page) if "Yes, at 8." in t]
    assert said == ["Sent to +1 516-206-5574 from +1 516-206-5318: Yes, at 8."]
