"""The team inbox's two panes (issue 16): on a wide screen the list beside the open conversation,
moved through with j/k (the URL follows and Back returns), answered with r, closed with e; on a
phone one pane at a time with a way back; and a contact's name wherever the customer shows."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from contacts.models import Contact
from messaging.models import Conversation, Message
from phone_numbers.services import numbers_sync
from tests.browser.conftest import (
    mark_page,
    screenshot,
    sign_in,
    still_same_page,
    text_our_did,
    wait_until,
)
from tests.conftest import make_user

pytestmark = pytest.mark.browser

INBOUND_LINE = "15162065318"
# Oldest first: the inbox lists the newest first, so C, B, A.
CUSTOMERS = [
    ("15162065591", "Is the shop open on Sunday?"),
    ("15162065592", "Can I change my delivery address?"),
    ("15162065593", "My order #1042 has not arrived yet."),
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def three_conversations(sandbox, worker, live_server, settings):
    settings.SANDBOX_STEP_SECONDS = 0.2
    numbers_sync()
    for number, text in CUSTOMERS:
        text_our_did(live_server, handset=number, did=INBOUND_LINE, message=text)
        # One at a time, so the list's order is the order they were sent in.
        wait_until(
            lambda n=number: Conversation.objects.filter(customer_number=n).exists(),
            what=f"the conversation with {number}",
        )
    return [number for number, _ in reversed(CUSTOMERS)]


def conversation_path(number: str) -> str:
    return reverse("messaging:conversation", args=[number])


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def open_is(page: Page, number: str, text: str) -> None:
    """The pane shows `number`'s conversation, the URL is its own and its row is marked open."""
    expect(page).to_have_url(re.compile(re.escape(conversation_path(number)) + "$"))
    expect(page.locator("#conversation-pane")).to_have_attribute("data-customer", number)
    expect(page.locator("#thread-rows")).to_contain_text(text)
    expect(page.locator(f"#conversation-{number}")).to_have_attribute("aria-current", "true")
    expect(page.locator(".conversation-item[aria-current]")).to_have_count(1)


def test_j_and_k_move_between_conversations_in_place_and_back_returns(
    page, three_conversations, live_server
):
    newest, middle, oldest = three_conversations
    texts = dict(CUSTOMERS)
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("messaging:inbox"))
    expect(page.locator("#conversation-list .conversation-item")).to_have_count(3)
    expect(page.locator("#conversation-pane")).to_contain_text("Pick a conversation")
    mark_page(page)

    page.keyboard.press("j")
    open_is(page, newest, texts[newest])
    page.keyboard.press("j")
    open_is(page, middle, texts[middle])
    page.keyboard.press("j")
    open_is(page, oldest, texts[oldest])
    page.keyboard.press("k")
    open_is(page, middle, texts[middle])
    assert still_same_page(page), "moving between conversations should not reload the page"

    page.go_back()
    open_is(page, oldest, texts[oldest])
    page.go_back()
    open_is(page, middle, texts[middle])

    # r: straight into the reply box; the answer goes out and shows in the thread.
    page.keyboard.press("r")
    box = page.locator("#conversation-pane textarea[name=message]")
    expect(box).to_be_focused()
    box.fill("Yes, you can: reply with the new address.")
    page.locator("#conversation-pane").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread-rows .bubble.outbound")).to_contain_text("reply with the new")
    wait_until(
        lambda: Message.objects.filter(their_number=middle, direction="outbound").exists(),
        what="the reply",
    )
    # Replying took the unassigned conversation.
    expect(page.locator("#conversation-state")).to_contain_text("Assigned to you")
    screenshot(page, "inbox-two-pane.png")

    # e: done, and it leaves the All list (open conversations) on the list's next poll.
    page.locator("#conversation-title").click()  # out of the reply box: keys type there
    page.keyboard.press("e")
    expect(page.locator("#conversation-state .state-badge")).to_have_text("Done")
    assert Conversation.objects.get(customer_number=middle).state == "done"
    expect(page.locator(f"#conversation-{middle}")).to_have_count(0, timeout=8_000)

    # ?: the shortcuts, listed in a dialog.
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    expect(page.get_by_role("dialog")).to_contain_text("Next conversation")
    page.keyboard.press("Escape")
    # /: the search box.
    page.keyboard.press("/")
    expect(page.get_by_role("searchbox")).to_be_focused()
    assert no_sideways_scroll(page)


def test_on_a_phone_the_list_and_the_conversation_take_turns(
    page, three_conversations, live_server
):
    newest = three_conversations[0]
    page.set_viewport_size(PHONE)
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("messaging:inbox"))
    items = page.locator("#conversation-list .conversation-item")
    expect(items).to_have_count(3)
    expect(page.locator("#conversation-pane")).to_be_hidden()
    assert no_sideways_scroll(page)
    screenshot(page, "inbox-phone-list.png")

    items.first.get_by_role("link").click()
    expect(page.locator("#conversation-pane")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(conversation_path(newest)) + "$"))
    expect(page.locator("#conversation-list")).to_be_hidden()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    assert no_sideways_scroll(page)
    screenshot(page, "inbox-phone-conversation.png")

    page.get_by_role("link", name="← Inbox").click()
    expect(items).to_have_count(3)
    expect(page.locator("#conversation-list")).to_be_visible()
    expect(page.locator("#conversation-pane")).to_be_hidden()


def test_a_contact_added_from_the_conversation_names_the_customer_everywhere(
    page, three_conversations, live_server
):
    newest = three_conversations[0]
    sign_in(page, make_user("ines", "Inbox staff"), then=conversation_path(newest))
    # One click makes the contact and opens it with the name field ready to type into.
    page.locator("#conversation-pane").get_by_role("button", name="Add contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("+1 516-206-5593")
    assert Contact.objects.filter(number=newest).exists()
    expect(page.get_by_label(re.compile(r"^Name:?$"))).to_be_focused()
    page.get_by_label(re.compile(r"^Name:?$")).fill("Dana Whitfield")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dana Whitfield")

    page.goto(conversation_path(newest))
    expect(page.get_by_role("heading", level=2, name="Dana Whitfield")).to_be_visible()
    expect(page.locator(f"#conversation-{newest} .who")).to_have_text("Dana Whitfield")
    expect(page.locator("#conversation-pane .number")).to_contain_text("+1 516-206-5593")
    page.goto(reverse("messaging:messages"))
    expect(page.locator("main")).to_contain_text("Dana Whitfield")
