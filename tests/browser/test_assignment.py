"""Assignment in the browser, two teammates at once in two browsers: Ines gives a conversation to
Alex; Mine and Unassigned show each of them the right list; Alex marks it done; the customer texts
again and the done conversation reopens in Alex's open tab, with the system lines in the thread.
At phone and desktop widths, with no sideways scrolling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from playwright.sync_api import Page, expect

from messaging.models import Conversation, Direction, Message
from messaging.services.assignment import conversation_assign, conversation_done
from messaging.services.carrier_events import conversation_add_message
from phone_numbers.services import numbers_sync
from tests.browser import test_accessibility as accessibility
from tests.browser.conftest import (
    CSP_REPORTER,
    DEFAULT_TIMEOUT_MS,
    mark_page,
    sign_in,
    still_same_page,
    text_our_did,
    wait_until,
)
from tests.conftest import make_user

pytestmark = pytest.mark.browser

HANDSET, OUR_LINE = "15162065574", "15162065318"
WIDTHS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]

axe_page = accessibility.axe_page
axe_findings = accessibility.axe_findings


@pytest.fixture
def second_page(browser, live_server, console_errors) -> Iterator:
    """Another person's browser: its own context (own cookies), watched like `page`."""
    pages = []

    def open_page(viewport: dict) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.expose_function("__cspViolation", console_errors.csp)
        context.add_init_script(CSP_REPORTER)
        page = context.new_page()
        page.on("console", console_errors.console)
        page.on("pageerror", console_errors.uncaught)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.context.close()


def list_of(page: Page, view: str):
    page.goto(f"{reverse('messaging:inbox')}?view={view}")
    return page.locator("#conversation-list .conversation-item")


def assert_fits(page: Page) -> None:
    width, scroll = page.evaluate("[window.innerWidth, document.scrollingElement.scrollWidth]")
    assert scroll <= width, f"{page.url} scrolls sideways: {scroll} px in {width}"


@pytest.mark.parametrize("viewport", WIDTHS, ids=["desktop", "phone"])
def test_two_teammates_assign_filter_finish_and_a_new_text_reopens_it(
    page, second_page, sandbox, worker, live_server, viewport
):
    numbers_sync()
    text_our_did(live_server, handset=HANDSET, did=OUR_LINE, message="Is my order ready?")
    wait_until(lambda: Conversation.objects.exists(), what="the conversation")
    conversation_url = reverse("messaging:conversation", args=[HANDSET])
    ines = make_user("ines", "Inbox staff")
    alex = make_user("alex", "Inbox staff")
    alex.first_name, alex.last_name = "Alex", "Rivera"
    alex.save()
    page.set_viewport_size(viewport)
    alex_page = second_page(viewport)
    sign_in(page, ines, then=reverse("messaging:inbox"))
    sign_in(alex_page, alex, then=reverse("messaging:inbox"))

    # Nobody has it yet: Unassigned for both, Mine for neither.
    expect(list_of(page, "unassigned")).to_have_count(1)
    expect(list_of(alex_page, "unassigned")).to_have_count(1)
    alex_mine = list_of(alex_page, "mine")
    expect(alex_mine).to_have_count(0)
    mark_page(alex_page)

    # Ines gives it to Alex; his open Mine list shows it without a reload.
    page.goto(conversation_url)
    state = page.locator("#conversation-state")
    expect(state).to_contain_text("Unassigned")
    assert_fits(page)
    mark_page(page)
    state.get_by_label("Assign to").select_option(label="Alex Rivera")
    state.get_by_role("button", name="Assign", exact=True).click()
    expect(state).to_contain_text("Assigned to Alex Rivera")
    expect(page.locator("#thread-rows .system-line")).to_contain_text(
        "ines assigned this to Alex Rivera"
    )
    assert still_same_page(page), "assigning reloaded the page; it should go by htmx"
    expect(alex_mine).to_have_count(1, timeout=12_000)
    expect(alex_page.locator(f"#conversation-{HANDSET}")).to_be_visible()
    assert still_same_page(alex_page), "the list reloaded; it should follow by htmx"

    # Mine differs per person; Unassigned is shared and now empty.
    expect(list_of(page, "mine")).to_have_count(0)
    expect(list_of(page, "unassigned")).to_have_count(0)
    expect(list_of(page, "all")).to_have_count(1)

    # Alex marks it done, in his own tab.
    alex_page.goto(conversation_url)
    alex_state = alex_page.locator("#conversation-state")
    expect(alex_state).to_contain_text("Assigned to you")
    alex_state.get_by_role("button", name="Done").click()
    expect(alex_state.locator(".state-badge")).to_have_text("Done")
    expect(alex_state.get_by_role("button", name="Reopen")).to_be_visible()
    assert_fits(alex_page)
    expect(list_of(page, "done")).to_have_count(1)
    expect(list_of(page, "all")).to_have_count(0)

    # The customer texts again: Alex's open tab shows it reopened, without a reload.
    alex_page.goto(conversation_url)
    mark_page(alex_page)
    text_our_did(live_server, handset=HANDSET, did=OUR_LINE, message="One more question")
    expect(alex_state.locator(".state-badge")).to_have_text("Open", timeout=12_000)
    lines = alex_page.locator("#thread-rows .system-line")
    expect(lines.last).to_contain_text("Reopened by a new message")
    expect(lines.filter(has_text="Alex Rivera marked this done")).to_have_count(1)
    expect(alex_page.locator("#thread-rows .bubble.inbound").last).to_contain_text(
        "One more question"
    )
    expect(alex_state).to_contain_text("Assigned to you")
    assert still_same_page(alex_page), "the thread reloaded; changes should arrive by htmx"
    assert_fits(alex_page)
    expect(list_of(alex_page, "mine")).to_have_count(1)


def a_conversation_and_two_teammates():
    """A customer's text to our line, and Ines and Alex of the Inbox staff."""
    message = Message.objects.create(
        direction=Direction.INBOUND, our_number=OUR_LINE, their_number=HANDSET, body="Hello?"
    )
    conversation_add_message(message)
    return (
        Conversation.objects.get(),
        make_user("ines", "Inbox staff"),
        make_user("alex", "Inbox staff"),
    )


def test_axe_finds_nothing_serious_in_the_controls_and_system_lines(axe_page, live_server):
    """The controls in each state (unassigned, assigned, done, a refused choice) and the thread's
    system lines, at both widths."""
    page = axe_page
    conversation, ines, alex = a_conversation_and_two_teammates()
    conversation_assign(conversation=conversation, assignee=alex, actor=ines)
    conversation_done(conversation=conversation, actor=alex)
    sign_in(page, ines, then=reverse("messaging:conversation", args=[HANDSET]))
    found = {}
    for viewport in WIDTHS:
        page.set_viewport_size(viewport)
        page.goto(reverse("messaging:conversation", args=[HANDSET]))
        expect(page.locator("#thread-rows .system-line").first).to_be_visible()
        found[f"done, assigned at {viewport['width']}"] = axe_findings(page)
        assert_fits(page)
        state = page.locator("#conversation-state")
        state.get_by_role("button", name="Reopen").click()
        expect(state.get_by_role("button", name="Done")).to_be_visible()
        lines = page.locator("#thread-rows .system-unassigned")
        before = lines.count()
        state.get_by_role("button", name="Unassign").click()
        expect(state).to_contain_text("Unassigned")
        # The thread's poll brings the new line (and the controls, fresh) once; after that it
        # has nothing new, so the refusal below is not redrawn away by it on a slow machine.
        expect(lines).to_have_count(before + 1, timeout=15_000)
        found[f"open, unassigned at {viewport['width']}"] = axe_findings(page)
        # A teammate removed from the team while the page was open: the choice is refused.
        alex.groups.clear()
        state.get_by_label("Assign to").select_option(label="alex")
        state.get_by_role("button", name="Assign", exact=True).click()
        expect(state.get_by_role("alert")).to_contain_text("Not assigned", timeout=15_000)
        found[f"refused choice at {viewport['width']}"] = axe_findings(page)
        assert_fits(page)
        alex.groups.add(Group.objects.get(name="Inbox staff"))
        conversation_assign(conversation=conversation, assignee=alex, actor=ines)
        conversation_done(conversation=conversation, actor=alex)
    found = {k: v for k, v in found.items() if v}
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in found.items())


def test_a_refusal_stays_in_view_when_the_thread_poll_redraws_the_controls(page, live_server):
    conversation, ines, alex = a_conversation_and_two_teammates()
    noor = make_user("noor", "Inbox staff")
    sign_in(page, ines, then=reverse("messaging:conversation", args=[HANDSET]))
    state = page.locator("#conversation-state")
    # Alex leaves the team while the page is open: choosing him is refused.
    alex.groups.clear()
    state.get_by_label("Assign to").select_option(label="alex")
    state.get_by_role("button", name="Assign", exact=True).click()
    expect(state.get_by_role("alert")).to_contain_text("Not assigned", timeout=15_000)
    # Noor takes the conversation meanwhile: the thread's poll brings that, with fresh controls.
    conversation_assign(conversation=conversation, assignee=noor, actor=noor)
    expect(state.locator(".assigned-to")).to_have_text("Assigned to noor", timeout=15_000)
    expect(state.get_by_role("alert")).to_contain_text("Not assigned")
    # The next choice answers for itself: the refusal goes.
    state.get_by_role("button", name="Assign to me").click()
    expect(state.locator(".assigned-to")).to_have_text("Assigned to you")
    expect(state.get_by_role("alert")).to_have_count(0)
    expect(page.locator(f"#assign-error-{HANDSET}")).to_be_empty()
