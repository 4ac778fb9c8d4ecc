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
from playwright.sync_api import Page

from tests.browser import test_layout as layout
from tests.browser.conftest import DEFAULT_TIMEOUT_MS

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
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
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
