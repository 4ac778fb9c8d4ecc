"""New conversation in Debian's Chromium (issue 16), on a phone and on a desktop: the agent types a
contact's number, inserts a saved reply whose blanks ask to be filled (the contact's first name
already is), is refused while one is empty, fills it, sends, and lands in the conversation, where
the filled text follows to delivered."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from contacts.models import Contact
from messaging.models import Message, SavedReply
from phone_numbers.models import Did
from phone_numbers.services import numbers_sync
from sandbox.models import SandboxMessage
from tests.browser import test_accessibility as accessibility
from tests.browser.conftest import screenshot, sign_in, wait_until
from tests.conftest import make_user

pytestmark = pytest.mark.browser

axe_page = accessibility.axe_page

HANDSET = "15162065574"
TYPED_NUMBER = "+1 516-206-5574"
REPLY = "Hi {first_name}, your order {order_number} ships today."
FILLED = "Hi Ana, your order A-1042 ships today."


@pytest.mark.parametrize("width", [390, 1280])
def test_a_conversation_started_with_a_saved_reply_whose_blanks_are_filled_lands_in_its_thread(
    page, sandbox, worker, width, console_errors
):
    console_errors.expect("status of 422")  # the refusal below, on purpose
    numbers_sync()
    SavedReply.objects.create(name="Order shipped", body=REPLY)
    Contact.objects.create(number=HANDSET, name="Ana Lopez", company="Acme")
    # Newer contacts fill the list offered before anything is typed.
    for n in range(12):
        Contact.objects.create(number=f"1516206{5600 + n}", name=f"Customer {n}")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, make_user("ines", "Inbox staff", "Senders"), then=reverse("messaging:inbox"))
    page.goto(reverse("messaging:conversation_new"))
    expect(page.get_by_role("heading", name="New conversation")).to_be_visible()

    to = page.locator("#id_to_did")
    ana = page.locator(f'#contact-options option[value="{TYPED_NUMBER}"]')
    expect(ana).to_have_count(0)
    to.press_sequentially("ana")
    expect(ana).to_have_text("Ana Lopez · Acme")  # found by name while typing
    to.fill(TYPED_NUMBER)  # what picking her in the browser's list puts there
    page.get_by_label("Saved replies").select_option(label="Order shipped")
    page.get_by_role("button", name="Insert").click()

    first_name, order_number = page.get_by_label("First name"), page.get_by_label("Order number")
    expect(first_name).to_have_value("Ana")  # from the contact picked in To
    expect(order_number).to_be_focused()
    message = page.get_by_label("Message")
    expect(message).to_have_value("Hi Ana, your order {order_number} ships today.")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"new-conversation-{width}.png")

    # Sent with a blank left: the server refuses, naming it, and asks for it again.
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#id_message_error")).to_contain_text(
        "Fill in the blank Order number ({order_number}) of the saved reply “Order shipped”"
    )
    assert not Message.objects.exists()
    order_number = page.get_by_label("Order number")
    expect(order_number).to_be_focused()

    order_number.press_sequentially("A-1042")
    expect(page.get_by_label("Message")).to_have_value(FILLED)
    expect(page.locator("#id_message-counter")).to_contain_text(f"{len(FILLED)} / 160")
    page.get_by_role("button", name="Send", exact=True).click()

    page.wait_for_url(f"**{reverse('messaging:conversation', args=[HANDSET])}")
    bubble = page.locator("#thread-rows .bubble.outbound", has_text=FILLED)
    expect(bubble).to_be_visible()
    expect(bubble.locator("[data-status=delivered]")).to_be_visible(timeout=20_000)
    wait_until(lambda: SandboxMessage.objects.filter(message=FILLED).exists(), what="the send")
    assert SandboxMessage.objects.get(message=FILLED).to_number == HANDSET
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_in_a_conversation_the_contacts_name_fills_its_blank_and_the_reply_is_sent_filled(
    page, sandbox, worker
):
    numbers_sync()
    SavedReply.objects.create(name="Thanks", body="Thanks {first_name}! Ref {ref}.")
    Contact.objects.create(number=HANDSET, name="Ana Lopez")
    ines = make_user("ines", "Inbox staff", "Senders")
    sign_in(page, ines, then=reverse("messaging:conversation_new"))
    page.locator("#id_to_did").fill(TYPED_NUMBER)
    page.get_by_label("Message").fill("Hello")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(f"**{reverse('messaging:conversation', args=[HANDSET])}")

    page.get_by_label("Saved replies").select_option(label="Thanks")
    page.get_by_role("button", name="Insert").click()
    expect(page.get_by_label("First name")).to_have_value("Ana")
    page.get_by_label("Ref").press_sequentially("77")
    expect(page.get_by_label("Message")).to_have_value("Thanks Ana! Ref 77.")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(
        page.locator("#thread-rows .bubble.outbound", has_text="Thanks Ana! Ref 77.")
    ).to_be_visible()
    # A fresh composer: no blanks left from the reply just sent.
    expect(page.locator(".saved-reply-blanks")).to_be_hidden()


@pytest.mark.parametrize("width", [390, 1280])
def test_axe_finds_nothing_serious_on_the_page_with_blanks_asked_and_a_refusal_shown(
    axe_page, live_server, width
):
    Did.objects.create(did_sid="did-1", phonenumber="15162065575", active_capabilities=3)
    SavedReply.objects.create(name="Order shipped", body=REPLY)
    Contact.objects.create(number=HANDSET, name="Ana Lopez")
    axe_page.set_viewport_size({"width": width, "height": 900})
    sign_in(axe_page, make_user("ines", "Inbox staff", "Senders"))
    axe_page.goto(reverse("messaging:conversation_new"))
    axe_page.locator("#id_to_did").fill(TYPED_NUMBER)
    axe_page.get_by_role("button", name="Insert").click()
    expect(axe_page.get_by_label("Order number")).to_be_visible()
    assert accessibility.axe_findings(axe_page) == []
    axe_page.get_by_role("button", name="Send", exact=True).click()
    expect(axe_page.locator("#id_message_error")).to_be_visible()
    assert accessibility.axe_findings(axe_page) == []
    assert axe_page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
