"""The number views that answer htmx with a fragment and a plain request with a page say so in
`Vary`, so no cache hands a fragment to a full page load or the page to an htmx swap."""

from __future__ import annotations

import pytest
from django.urls import reverse

from phone_numbers.models import Did, DidGroup
from phone_numbers.sync import numbers_sync

MAIN_LINE = "15162065575"


@pytest.fixture
def did(sandbox, admin_client_) -> Did:
    numbers_sync()
    return Did.objects.get(phonenumber=MAIN_LINE)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_moving_a_did_into_a_group_answers_vary_on_hx_request(did, admin_client_, htmx):
    support = DidGroup.objects.get(name="Support")
    headers = {"HX-Request": "true"} if htmx else {}

    response = admin_client_.post(
        reverse("numbers:did_group", args=[did.did_sid]),
        {"did_group_sid": support.did_group_sid},
        headers=headers,
    )

    assert response.status_code == (200 if htmx else 302)
    assert "HX-Request" in response["Vary"]
    did.refresh_from_db()
    assert did.group == support
