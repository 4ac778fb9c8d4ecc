"""axe-core (WCAG 2.1 A and AA rules) on every page of the portal, for every role and a visitor,
on a phone (390×844) and on a desktop (1280×900): any serious or critical finding fails.

The page list and the roles are test_layout's. axe is vendored in tests/browser/vendor/ (see its
README) and injected by the test only; the portal never serves it. Its script tag is inline, which
the portal's CSP refuses, so these pages open in a context that bypasses the CSP (test_layout
checks the CSP on the same pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from messaging.models import Direction, Message, OptOut
from tests.browser import test_layout as layout
from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.conftest import make_user

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = {"serious", "critical"}

world = layout.world


@pytest.fixture
def axe_page(browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def axe_findings(page: Page) -> list[str]:
    """The serious and critical violations on the page as it is now, one line per element."""
    page.add_script_tag(path=AXE)
    result = page.evaluate(
        # Violations only: axe otherwise gathers every passing and inapplicable check as well.
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    return [
        f"{v['id']} ({v['impact']}): {node['target']} — {node['failureSummary']}"
        for v in result["violations"]
        if v["impact"] in FAILING
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("viewport", [layout.PHONE, layout.DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize(
    "role", [*layout.ROLES, None], ids=[r.name for r in layout.ROLES] + ["visitor"]
)
def test_axe_finds_nothing_serious_on_any_page(axe_page, live_server, world, role, viewport):
    page = axe_page
    page.set_viewport_size(viewport)
    if role is not None:
        layout.sign_in_as(page, live_server, role)
    found = {}
    for path, _status in layout.pages_for(role, world):
        page.goto(path)
        if findings := axe_findings(page):
            found[path] = findings
        menu = page.get_by_role("button", name="Menu", exact=True)
        if menu.is_visible():
            menu.click()  # the folded nav is part of the page too
            if findings := axe_findings(page):
                found[f"{path} (menu open)"] = findings
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in found.items())


def test_axe_finds_nothing_serious_in_what_actions_leave_on_screen(axe_page, live_server, world):
    """States the page list does not reach by URL alone: a refused send, a saved preference, an
    opted-out conversation, a failed message, an auto-reply form opened in place."""
    page = axe_page
    admin = layout.ROLES[0]
    layout.sign_in_as(page, live_server, admin)
    did = world["did"]
    OptOut.objects.create(
        customer_number=layout.CUSTOMER,
        our_number=layout.OUR_DID,
        keyword="STOP",
        changed_at=timezone.now(),
    )
    failed = Message.objects.create(
        message_sid="out-failed",
        direction=Direction.OUTBOUND,
        our_number=layout.OUR_DID,
        their_number=layout.CUSTOMER,
        body="Your code is 1234",
        status="failed",
        error="30006: landline or unreachable carrier",
    )
    found = {}
    for viewport in (layout.PHONE, layout.DESKTOP):
        page.set_viewport_size(viewport)
        states = []
        page.goto(reverse("messaging:send"))
        page.get_by_label("To DID").fill("not a number")
        page.get_by_label("Message").fill("Hello")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_label("To DID")).to_have_attribute("aria-invalid", "true")
        states.append(("refused send", axe_findings(page)))
        page.goto(reverse("preferences"))
        page.get_by_label("Time zone").select_option("America/New_York")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".flash")).to_contain_text("Times now show in America/New York")
        states.append(("saved preference", axe_findings(page)))
        page.goto(reverse("messaging:conversation", args=[layout.CUSTOMER]))
        expect(page.locator(".opted-out")).to_be_visible()
        states.append(("opted-out conversation", axe_findings(page)))
        page.goto(reverse("messaging:message", args=[failed.pk]))
        states.append(("failed message", axe_findings(page)))
        page.goto(reverse("messaging:auto_replies"))
        page.get_by_role("link", name=f"Edit auto-reply on {did.formatted}").click()
        expect(page.get_by_role("form", name=f"Auto-reply on {did.label}")).to_be_visible()
        states.append(("auto-reply form open", axe_findings(page)))
        page.goto(f"{reverse('messaging:messages')}?date_from=yesterday")
        expect(page.get_by_role("alert")).to_be_visible()
        states.append(("refused filters", axe_findings(page)))
        page.goto(did.get_absolute_url())
        page.locator("#callback-panel").get_by_role("link", name="Edit").click()
        expect(page.get_by_label("SMS Callback URL")).to_be_visible()
        states.append(("callback form open", axe_findings(page)))
        found.update({f"{name} at {viewport['width']} px": f for name, f in states if f})
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in found.items())


def test_axe_finds_nothing_serious_on_a_refused_sign_in(axe_page, live_server):
    page = axe_page
    make_user("vera")
    found = {}
    for viewport in (layout.PHONE, layout.DESKTOP):
        page.set_viewport_size(viewport)
        page.goto(reverse("login"))
        page.get_by_label("Username").fill("vera")
        page.get_by_label("Password").fill("not her password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("main")).to_contain_text("Please enter a correct username")
        if findings := axe_findings(page):
            found[viewport["width"]] = findings
    assert found == {}, found


def test_axe_finds_nothing_serious_in_composers_with_attachments(axe_page, live_server, world):
    """The Messaging page and a conversation's reply with pictures and a file attached (the
    thumbnails, their remove buttons, the MMS counter), and with a From DID that cannot send MMS
    (the reason shown)."""
    page = axe_page
    layout.sign_in_as(page, live_server, layout.ROLES[0])
    found = {}
    for viewport in (layout.PHONE, layout.DESKTOP):
        page.set_viewport_size(viewport)
        for path in (
            reverse("messaging:send"),
            reverse("messaging:conversation", args=[layout.CUSTOMER]),
        ):
            page.goto(path)
            page.get_by_label("From DID").select_option(layout.OUR_DID)
            page.get_by_label("Attach", exact=True).set_input_files(layout.ATTACHMENTS)
            expect(page.locator(".attach-list li")).to_have_count(len(layout.ATTACHMENTS))
            if findings := axe_findings(page):
                found[f"{path} with attachments at {viewport['width']} px"] = findings
            page.get_by_label("From DID").select_option(layout.SMS_ONLY_DID)
            expect(page.locator(".attach-note")).to_contain_text("cannot send pictures or files")
            if findings := axe_findings(page):
                found[f"{path} from an SMS-only DID at {viewport['width']} px"] = findings
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in found.items())
