"""The landline warning in the browser: typing a number the carrier calls a landline into To DID
shows the warning under it (the lookup ran in the background worker), and a mobile number clears
it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from phone_numbers.sync import numbers_sync
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser


def test_typing_a_landline_warns_before_sending_and_a_mobile_clears_it(
    page, sandbox, worker, settings
):
    settings.LANDLINE_CHECK = True
    numbers_sync()
    sign_in(page, make_user("sam", "Senders"), then=reverse("messaging:send"))
    to_did = page.get_by_label("To DID")
    to_did.fill("+1 212 555 0100")
    warning = page.locator("#to-did-check")
    expect(warning).to_contain_text("Landline", timeout=15_000)
    expect(warning).to_contain_text("cannot receive texts")
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, "phone-landline-warning.png")
    to_did.fill("+1 212 555 0142")
    expect(warning).not_to_contain_text("Landline", timeout=15_000)
