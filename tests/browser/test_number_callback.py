"""Editing a DID's SMS Callback URL inline, in the browser: the panel swaps in place and the
carrier (the sandbox) has the new URL."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from phone_numbers.sync import numbers_sync
from sandbox.models import SandboxDid
from sandbox.seed import seeded_sid
from tests.browser.conftest import mark_page, sign_in, still_same_page
from tests.conftest import make_user

pytestmark = pytest.mark.browser

MAIN_LINE = "15162065575"
NEW_URL = "https://hooks.example.com/carrierx/sms/main-line"


def test_a_number_admin_edits_a_did_callback_url_in_place(page, sandbox):
    did_sid = seeded_sid("did", MAIN_LINE)
    numbers_sync()  # pages never read the carrier; the background task would
    sign_in(page, make_user("nora", "Number admins"), then=reverse("numbers:list"))
    expect(page.get_by_role("heading", name="Phone Numbers")).to_be_visible()
    expect(page.locator("table.numbers tbody tr")).to_have_count(12)

    page.get_by_role("link", name="+1 516-206-5575").click()
    detail_url = reverse("numbers:detail", args=[did_sid])
    page.wait_for_url(f"**{detail_url}")
    panel = page.locator("#callback-panel")
    expect(panel.locator("[data-field=did-callback]")).to_have_text("—")
    mark_page(page)

    panel.get_by_role("link", name="Edit").click()
    page.get_by_label("SMS Callback URL").fill(NEW_URL)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(panel.locator("[data-field=did-callback]")).to_have_text(NEW_URL)
    expect(panel.get_by_role("status")).to_have_text("CarrierX accepted the new SMS Callback URL.")
    expect(panel.locator("[data-field=effective] [data-source]")).to_have_attribute(
        "data-source", "DID"
    )
    assert page.url.endswith(detail_url), page.url
    assert still_same_page(page), "Save navigated away; the panel should swap in place"
    assert SandboxDid.objects.get(phonenumber=MAIN_LINE).callback_url == NEW_URL
