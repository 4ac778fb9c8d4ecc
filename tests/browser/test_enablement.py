"""Renting and enabling SMS in Chromium: the rent search, then a number's SMS Enablement section
follows in_progress → enabled on the open page without a reload (htmx polls our copy, which the
background re-read of the carrier updates)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from phone_numbers.models import Did
from sandbox.models import SandboxDid
from tests.browser.conftest import mark_page, screenshot, sign_in, still_same_page
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def test_rent_search_then_enable_sms_turns_enabled_on_the_open_page(
    page, sandbox, worker, settings
):
    # Slow enough to see in_progress (and photograph it), fast enough for a test.
    settings.SANDBOX_ENABLEMENT_SECONDS = 3
    settings.NUMBERS_ENABLEMENT_POLL_SECONDS = 0.5
    sign_in(page, make_user("nora", "Number admins"), then=reverse("numbers:rent"))

    page.get_by_label("State").fill("TX")
    page.get_by_label("Area Code").fill("512")
    page.get_by_role("button", name="Search Availability").click()
    expect(page.get_by_text("Results from CarrierX just now")).to_be_visible()
    first = page.locator("table.rent-results tbody tr").first
    expect(first).to_contain_text("AUSTIN")
    screenshot(page, "rent-search.png")
    number = first.get_attribute("data-number")
    assert SandboxDid.objects.get(phonenumber=number).state == "TX"

    first.get_by_role("button", name=re.compile("^Rent ")).click()
    expect(page.get_by_role("heading", name=re.compile("^Rent "))).to_be_visible()
    page.get_by_label("Enable SMS on it").uncheck()
    page.get_by_label("Yes, I want to rent this Phone Number").check()
    page.get_by_role("button", name="Rent Number").click()
    expect(page.get_by_text("it is in your Phone Numbers")).to_be_visible()
    did = Did.objects.get(phonenumber=number)

    section = page.locator("#enablement")
    mark_page(page)
    section.get_by_role("button", name="Enable SMS").click()
    status = section.locator("[data-field=messaging-status]")
    expect(status).to_contain_text("in_progress")
    screenshot(page, "enablement-in-progress.png")
    expect(status).to_contain_text("enabled", timeout=20_000)
    expect(status).not_to_contain_text("in_progress")
    assert still_same_page(page), "the page reloaded; the status should arrive by htmx"

    did.refresh_from_db()
    assert did.messaging_status == "enabled"
    assert did.active_capabilities == SandboxDid.objects.get(did_sid=did.did_sid).capabilities
