"""Screenshots of the portal's main pages for the README, taken with Debian's headless Chromium.

Usage (against a running `make run`):
    .venv/bin/python docs/take_screenshots.py http://127.0.0.1:8000 admin PASSWORD
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
OUT = Path(__file__).parent / "screenshots"


def main(base: str, username: str, password: str) -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/messaging/")

        page.select_option("select[name=from_did]", "15162065575")
        page.fill("input[name=to_did]", "+1 (516) 206-5574")
        page.fill("textarea[name=message]", "Your table for two is ready. Reply STOP to opt out.")
        page.click("button:has-text('Send')")
        newest = "#recent-messages tbody tr:first-child"
        page.wait_for_selector(f"{newest} [data-status=delivered], {newest} [data-status=failed]")
        page.screenshot(path=OUT / "messaging.png", full_page=True)

        page.goto(f"{base}/numbers/")
        page.screenshot(path=OUT / "phone-numbers.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
