"""The composer's landline warning: the carrier's lookup is asked in the background (never while a
page or fragment waits), kept, and read to warn before a text goes to a line that cannot take it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from messaging.models import NumberLookup
from phone_numbers.sync import numbers_sync
from tests.conftest import run_tasks

LANDLINE = "+1 212 555 0100"  # the sandbox's lookup: a number ending in 00 is a landline
MOBILE = "+1 212 555 0142"
CHECK = reverse("messaging:number_check")


@pytest.fixture
def check_on(settings):
    settings.LANDLINE_CHECK = True


def test_the_composer_asks_about_the_to_number_when_the_check_is_on(sender_client, check_on, db):
    page = sender_client.get(reverse("messaging:send")).content.decode()
    assert 'id="to-did-check"' in page and CHECK in page


def test_the_composer_has_no_check_when_it_is_off(sender_client, settings, db):
    settings.LANDLINE_CHECK = False
    assert "to-did-check" not in sender_client.get(reverse("messaging:send")).content.decode()
    assert sender_client.get(CHECK, {"to_did": LANDLINE}).content.decode().count("Landline") == 0
    assert not NumberLookup.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_landline_is_looked_up_in_the_background_once_and_then_warned_about(
    sandbox, sender_client, check_on
):
    numbers_sync()
    first = sender_client.get(CHECK, {"to_did": LANDLINE}).content.decode()
    assert "Landline" not in first
    assert "try=1" in first  # the fragment asks again while the lookup runs
    again = sender_client.get(CHECK, {"to_did": LANDLINE, "try": "1"}).content.decode()
    assert "Landline" not in again
    lookups = DBTaskResult.objects.filter(task_path="messaging.tasks.number_lookup_task")
    assert lookups.count() == 1  # one lookup however often it is asked
    run_tasks()
    warned = sender_client.get(CHECK, {"to_did": LANDLINE, "try": "2"}).content.decode()
    assert "Landline:" in warned and "+1 212-555-0100" in warned
    assert "hx-trigger" not in warned  # answered: no more asking
    assert NumberLookup.objects.get().line_type == "landline"


@pytest.mark.django_db(transaction=True)
def test_a_mobile_number_gets_no_warning(sandbox, sender_client, check_on):
    sender_client.get(CHECK, {"to_did": MOBILE})
    run_tasks()
    assert "Landline" not in sender_client.get(CHECK, {"to_did": MOBILE}).content.decode()
    assert NumberLookup.objects.get().line_type == "mobile"


def test_the_check_answers_at_once_when_the_carrier_is_unreachable(sender_client, check_on, db):
    response = sender_client.get(CHECK, {"to_did": LANDLINE})
    assert response.status_code == 200
    # Nothing was asked of the carrier in the request: a lookup task waits for the worker.
    assert NumberLookup.objects.get().looked_up_at is None
    assert DBTaskResult.objects.filter(task_path="messaging.tasks.number_lookup_task").exists()


def test_only_senders_may_use_the_check(client, inbox_staff, check_on):
    client.force_login(inbox_staff)
    assert client.get(CHECK, {"to_did": LANDLINE}).status_code == 403


@hsettings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    to_did=st.one_of(st.text(max_size=80), st.sampled_from([LANDLINE, MOBILE, "", "+", "00"])),
    tries=st.one_of(st.text(max_size=12), st.integers().map(str)),
)
def test_no_typed_number_or_try_count_breaks_the_check(sender_client, check_on, db, to_did, tries):
    response = sender_client.get(CHECK, {"to_did": to_did, "try": tries})
    assert response.status_code == 200
    assert sender_client.get(reverse("messaging:send")).status_code == 200
