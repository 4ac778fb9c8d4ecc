"""A campaign made in the browser: a CSV uploaded, the preview read, Start pressed, and the progress
bar moving while the task worker sends against the sandbox; the pages' refused and live states
checked with axe. (Every campaign page at both widths for every role: test_layout and
test_accessibility's page lists.) With SCREENSHOTS=1 it saves the pages to docs/screenshots/."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from campaigns.models import Campaign, Recipient
from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxMessage
from tests.browser import test_accessibility as a11y
from tests.browser import test_layout as layout
from tests.browser.conftest import mark_page, screenshot, sign_in, still_same_page, wait_until
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
RECIPIENTS = 16


def the_list() -> bytes:
    rows = ["First Name,Phone,Company"]
    rows += [f"Ann{i},+1 212-555-{1000 + i:04d},Acme" for i in range(RECIPIENTS)]
    rows += ["Bob,not a number,Acme", f"Ann0,+1 212-555-{1000:04d},Acme"]  # removed: 2
    return ("\n".join(rows) + "\n").encode()


def test_a_campaign_from_a_csv_previews_starts_and_its_progress_bar_moves(
    page, sandbox, worker, settings
):
    settings.SANDBOX_STEP_SECONDS = 0.2
    settings.CAMPAIGN_TICK_SECONDS = 5
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"), then=reverse("campaigns:list"))
    expect(page.get_by_text("No campaigns yet.")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()

    page.get_by_label("Campaign name").fill("Spring sale")
    page.get_by_role("checkbox", name=re.compile(r"\+1 516-206-5575")).check()
    page.get_by_label("Message", exact=True).fill("Hi {first_name}, 20% off at {company}.")
    page.get_by_label("Recipient list (CSV)").set_input_files(
        {"name": "spring.csv", "mimeType": "text/csv", "buffer": the_list()}
    )
    # Slow enough to watch: 16 texts at 2 a second.
    page.get_by_label("Messages per second per DID").fill("2")
    screenshot(page, "campaign-new.png")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Preview Spring sale")).to_be_visible()
    expect(page.locator("#send-count")).to_contain_text(f"{RECIPIENTS} recipients to text")
    expect(page.locator("#removed-unparsable")).to_contain_text("Not a phone number: 1")
    expect(page.locator("#removed-duplicate")).to_contain_text("Duplicate: 1")
    expect(page.locator(".samples li")).to_have_count(3)
    expect(page.locator(".samples").first).to_contain_text("Hi Ann0, 20% off at Acme.")
    screenshot(page, "campaign-preview.png")
    page.get_by_role("button", name="Start").click()

    bar = page.locator("#campaign-bar")
    expect(bar).to_have_attribute("max", str(RECIPIENTS))
    mark_page(page)
    seen = [int(bar.get_attribute("value"))]
    # Two polls that each show more done than the one before: the bar moves, in place.
    for _ in range(2):
        expect(bar).not_to_have_attribute("value", str(seen[-1]), timeout=15_000)
        seen.append(int(bar.get_attribute("value")))
    assert seen == sorted(seen) and seen[-1] > seen[0], seen
    assert still_same_page(page), "the page reloaded; progress should arrive by htmx"
    screenshot(page, "campaign-progress.png")

    campaign = Campaign.objects.get()
    wait_until(
        lambda: Campaign.objects.filter(pk=campaign.pk, state="finished").exists(),
        what="the campaign to finish",
        timeout=30,
    )
    expect(bar).to_have_attribute("value", str(RECIPIENTS), timeout=10_000)
    expect(page.locator(".campaign-state")).to_contain_text("Finished")
    assert SandboxMessage.objects.filter(direction="outbound").count() == RECIPIENTS
    assert ("12125551003", "Hi Ann3, 20% off at Acme.") in set(
        SandboxMessage.objects.values_list("to_number", "message")
    )
    assert Recipient.objects.filter(campaign=campaign, state="messaged").count() == RECIPIENTS

    page.get_by_role("link", name="Report").click()
    expect(page.locator("table.report tbody tr")).to_have_count(RECIPIENTS + 2)
    screenshot(page, "campaign-report.png")


def test_campaign_pages_in_their_refused_and_paused_states_fit_and_pass_axe(
    axe_page, live_server, world
):
    """States a plain GET does not reach: a refused New campaign form, a paused campaign, the
    preview's warnings (an empty variable, a UCS-2 text); at both widths. (axe needs a page that
    bypasses the CSP; test_layout checks the CSP on these pages.)"""
    page = axe_page
    layout.sign_in_as(page, live_server, layout.ROLES[2])  # a sender
    running = world["running"]
    Campaign.objects.filter(pk=running.pk).update(state=Campaign.State.PAUSED)
    found = {}
    for viewport in (layout.PHONE, layout.DESKTOP):
        page.set_viewport_size(viewport)
        page.goto(reverse("campaigns:new"))
        page.get_by_label("Message", exact=True).fill("Hi {first_name}")
        page.get_by_label("At a date and time").check()
        page.get_by_label("Quiet hours from").fill("21:00")
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
        expect(page.get_by_text("Pick at least one DID to send from.")).to_be_visible()
        states = [("refused form", page.url)]
        if viewport is layout.PHONE:
            screenshot(page, "phone-campaign-refused.png")
        layout.assert_fits(page, "refused form")
        if findings := a11y.axe_findings(page):
            found[f"refused form at {viewport['width']} px"] = findings
        for name, path in (
            ("paused campaign", running.get_absolute_url()),
            ("preview with warnings", reverse("campaigns:preview", args=[world["draft"].pk])),
        ):
            page.goto(path)
            states.append((name, path))
            layout.assert_fits(page, name)
            if viewport is layout.PHONE:
                layout.assert_tappable(page, name)
                screenshot(page, f"phone-{name.replace(' ', '-')}.png")
            if findings := a11y.axe_findings(page):
                found[f"{name} at {viewport['width']} px"] = findings
        expect(page.locator(".warning").first).to_be_visible()
    assert found == {}, "\n".join(f"{p}:\n  " + "\n  ".join(f) for p, f in found.items())


def test_a_saved_reply_fills_the_campaign_message_in_place(page, live_server, sandbox):
    from messaging.models import SavedReply

    SavedReply.objects.create(name="Pickup", body="Hi {first_name}, your order is ready.")
    layout.sign_in_as(page, live_server, layout.ROLES[2])
    page.goto(reverse("campaigns:new"))
    mark_page(page)
    page.get_by_label("Use a saved reply").select_option(label="Pickup")
    page.get_by_role("button", name="Insert").click()
    expect(page.get_by_label("Message", exact=True)).to_have_value(
        "Hi {first_name}, your order is ready."
    )
    expect(page.locator("#id_message-counter")).to_contain_text("1 segment")
    assert still_same_page(page)


world = layout.world
axe_page = a11y.axe_page


def test_a_long_list_shows_its_reading_progress_then_moves_to_the_preview(
    page, live_server, transactional_db
):
    """A list past the threshold is read by the worker: the page says rows read of the total,
    the bar moves in place as the worker reads, and the preview opens by itself once it is read.
    (The worker's run is made here, step by step, so the test sees each stage.)"""
    from django.utils import timezone

    from campaigns.lists import campaign_list_read_run
    from campaigns.models import ListRead
    from phone_numbers.models import Did

    Did.objects.create(did_sid="d1", phonenumber=MAIN_LINE, capabilities=7, active_capabilities=7)
    rows = ["First Name,Phone,Company"]
    rows += [f"Ann{i},+1 212-55{i // 10000}-{i % 10000:04d},Acme" for i in range(1_500)]
    sign_in(page, make_user("sam", "Senders"), then=reverse("campaigns:new"))
    page.get_by_label("Campaign name").fill("Autumn sale")
    page.get_by_role("checkbox", name=re.compile(r"\+1 516-206-5575")).check()
    page.get_by_label("Message", exact=True).fill("Hi {first_name}, autumn at {company}.")
    page.get_by_label("Recipient list (CSV)").set_input_files(
        {"name": "autumn.csv", "mimeType": "text/csv", "buffer": ("\n".join(rows)).encode()}
    )
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Reading autumn.csv")).to_be_visible()
    expect(page.get_by_text("Waiting to start")).to_be_visible()
    mark_page(page)
    job = ListRead.objects.get()
    ListRead.objects.filter(pk=job.pk).update(
        state="running", rows_total=1_500, rows_read=500, started_at=timezone.now()
    )
    bar = page.locator("#read-bar")
    expect(bar).to_have_attribute("value", "500")
    expect(page.locator("#read-status")).to_contain_text("500 of 1,500 rows read (33%)")
    assert still_same_page(page), "the page reloaded; progress should arrive by htmx"
    screenshot(page, "campaign-list-reading.png")

    campaign_list_read_run(job.pk)
    expect(page.get_by_role("heading", name="Preview Autumn sale")).to_be_visible()
    expect(page.locator("#send-count")).to_contain_text("1500 recipients to text")
    expect(page.locator(".samples").first).to_contain_text("Hi Ann0, autumn at Acme.")
    assert Campaign.objects.get().recipients.count() == 1_500
