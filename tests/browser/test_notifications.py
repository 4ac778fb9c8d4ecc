"""Desktop notifications and the tab title in the browser: a text to an unassigned conversation
raises exactly one notification, with the sender and the text, for a person whose setting covers
Unassigned and none for one who chose none; both tabs' titles count it; clicking the
notification opens the conversation. The browser's permission is granted by Playwright, and a
wrapper around window.Notification records every notification the page raises."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from messaging.models import Message
from portal.models import UserPreferences
from tests.browser.conftest import VIEWPORT, sign_in, text_our_did, wait_until
from tests.browser.test_layout import assert_fits, assert_tappable
from tests.conftest import make_user

pytestmark = pytest.mark.browser

HANDSET = "15162065574"
INBOUND_LINE = "15162065318"
QUESTION = "Do you have a table for two tonight at 8?"
POLL_SECONDS = 5  # static/js/notifications.js, while the tab is visible

# The real Notification still runs (the permission is the browser's own); each one raised is also
# kept, with its title and body, and the object itself so the test can click it.
RECORDER = """
window.__notifications = [];
window.__notificationObjects = [];
if ("Notification" in window) {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options = {}) {
      super(title, options);
      window.__notifications.push({ title, body: options.body, tag: options.tag });
      window.__notificationObjects.push(this);
    }
  };
}
"""


# A browser that has not asked the person yet, and that they answer yes when it does.
NOT_ASKED_YET = """
window.__asked = 0;
Object.defineProperty(Notification, "permission", { get: () => window.__answer ?? "default" });
Notification.requestPermission = async () => {
  window.__asked += 1;
  window.__answer = "granted";
  return "granted";
};
"""


def raised(page: Page) -> list[dict]:
    return page.evaluate("window.__notifications")


def watching(page: Page) -> None:
    page.context.grant_permissions(["notifications"])
    page.context.add_init_script(RECORDER)


def test_a_text_to_an_unassigned_conversation_notifies_once_and_counts_in_the_title(
    browser, page, sandbox, worker, live_server, settings
):
    settings.SANDBOX_STEP_SECONDS = 0.2
    ines = make_user("ines", "Inbox staff")  # no saved choice: Mine and Unassigned
    nina = make_user("nina", "Inbox staff")
    UserPreferences.objects.create(user=nina, notify_on=UserPreferences.NotifyOn.NONE)

    watching(page)
    sign_in(page, ines, then=reverse("numbers:list"))
    expect(page).to_have_title(re.compile(r"^Phone Numbers"))
    # A second person at the same time, in a browser of their own.
    other = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    try:
        nina_page = other.new_page()
        watching(nina_page)
        sign_in(nina_page, nina, then=reverse("numbers:list"))

        text_our_did(live_server, handset=HANDSET, did=INBOUND_LINE, message=QUESTION)
        wait_until(lambda: Message.objects.filter(body=QUESTION).exists(), what="the text")
        wait_until(lambda: raised(page), what="the notification", timeout=15)
        expect(page).to_have_title(re.compile(r"^\(1\) Phone Numbers"))
        expect(page.locator(".mainnav .badge.unread")).to_have_text("1 unread")
        # Nina's tab saw the same change (its title counts it) and raised nothing.
        expect(nina_page).to_have_title(re.compile(r"^\(1\) Phone Numbers"), timeout=15_000)

        # Two more polls: the cursor's grace brings the text again, and it is not shown again.
        time.sleep(2 * POLL_SECONDS + 1)
        tag = f"message-{Message.objects.get(body=QUESTION).pk}"
        assert raised(page) == [{"title": "+1 516-206-5574", "body": QUESTION, "tag": tag}]
        assert raised(nina_page) == []
    finally:
        other.close()

    page.evaluate("window.__notificationObjects[0].dispatchEvent(new Event('click'))")
    expect(page).to_have_url(
        re.compile(re.escape(reverse("messaging:conversation", args=[HANDSET])))
    )
    expect(page.get_by_text(QUESTION).first).to_be_visible()
    # Opened, so read: the title drops its count on the next poll; the text is not news again.
    expect(page).not_to_have_title(re.compile(r"^\(\d+\)"), timeout=15_000)
    assert raised(page) == []


@pytest.mark.parametrize("width", [390, 1280])
def test_the_preferences_page_fits_and_asks_for_permission_only_when_clicked(
    page, live_server, width
):
    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_init_script(NOT_ASKED_YET)
    sign_in(page, make_user("ines", "Inbox staff"), then=reverse("preferences"))
    expect(page.get_by_label("Mine and Unassigned", exact=False)).to_be_checked()
    ask = page.get_by_role("button", name="Turn on desktop notifications")
    expect(ask).to_be_visible()
    assert page.evaluate("window.__asked") == 0  # never on load
    assert_fits(page, f"preferences at {width} px")
    if width == 390:
        assert_tappable(page, "preferences")
    ask.click()
    expect(page.get_by_text("Desktop notifications are on in this browser.")).to_be_visible()
    expect(ask).to_be_hidden()
    assert page.evaluate("window.__asked") == 1

    page.get_by_label("Mine: open conversations assigned to me").check()
    page.get_by_role("button", name="Save").click()
    saved = "Desktop notifications for new messages in conversations assigned to you."
    expect(page.get_by_text(saved)).to_be_visible()
    assert UserPreferences.objects.get().notify_on == UserPreferences.NotifyOn.MINE
