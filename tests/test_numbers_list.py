"""Configure → Phone Numbers: every rented DID, its own and its effective SMS callback, sync and
filters, read from the sandbox carrier over real HTTP."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from phone_numbers.models import Did, SyncRun
from phone_numbers.sync import numbers_sync
from portal import carrierx
from sandbox.models import SandboxDid, SandboxDidGroup
from tests.netfaults import closed_port_url

LIST_URL = "/numbers/"
MAIN_LINE = "15162065575"
SUPPORT_1 = "15162065320"  # in the seeded "Support" group
VOICE_ONLY = "15162065581"


def row(page: str, number: str) -> str:
    """The list's table row for one DID."""
    match = re.search(rf'<tr id="number-\d+" data-did="{number}".*?</tr>', page, re.DOTALL)
    assert match, f"no row for {number}"
    return match.group(0)


def rows(page: str) -> list[str]:
    return re.findall(r'<tr id="number-\d+" data-did="(\d+)"', page)


@pytest.fixture
def carrier_gets(monkeypatch) -> list[str]:
    """Every URL the portal GETs from the carrier."""
    seen: list[str] = []
    real = carrierx._session.request

    def spy(method, url, **kwargs):
        if method == "GET":
            seen.append(url)
        return real(method, url, **kwargs)

    monkeypatch.setattr(carrierx._session, "request", spy)
    return seen


@pytest.fixture
def synced(sandbox):
    """Our numbers as a sync has read them from the sandbox (pages never call the carrier)."""
    numbers_sync()
    return sandbox


def test_the_first_sync_reads_every_rented_did_from_all_pages_of_the_carriers_list(
    sandbox, admin_client_, monkeypatch, carrier_gets
):
    monkeypatch.setattr(carrierx, "LIST_PAGE_SIZE", 5)

    call_command("numbers_sync", stdout=io.StringIO())
    page = admin_client_.get(LIST_URL).content.decode()

    assert sorted(rows(page)) == sorted(
        SandboxDid.objects.filter(status="assigned").values_list("phonenumber", flat=True)
    )
    assert len(rows(page)) == 12
    assert len([url for url in carrier_gets if "phonenumber/dids" in url]) == 3  # 5 + 5 + 2
    assert Did.objects.count() == 12
    assert SyncRun.objects.get().dids == 12
    assert "Last synced with CarrierX" in page


def test_each_row_shows_number_name_group_capabilities_and_own_and_effective_callback(
    sandbox, admin_client_
):
    SandboxDid.objects.filter(phonenumber=MAIN_LINE).update(callback_url="https://did.example/sms")
    SandboxDidGroup.objects.update(callback_url="https://group.example/sms")
    numbers_sync()

    page = admin_client_.get(LIST_URL).content.decode()

    main = row(page, MAIN_LINE)
    assert "+1 516-206-5575" in main
    assert "Main line" in main
    assert "SMS in" in main and "SMS out" in main
    assert main.count("https://did.example/sms") == 2  # its own, and the effective one
    assert 'data-source="DID"' in main

    support = row(page, SUPPORT_1)
    assert ">Support</a>" in support
    assert "https://group.example/sms" in support
    assert 'data-source="Group"' in support

    voice = row(page, VOICE_ONLY)
    assert "no SMS" in voice
    assert 'data-source="Partner"' in voice
    assert "this portal" in voice


def test_sync_rereads_the_carrier_and_the_page_says_when(synced, admin_client_):
    admin_client_.get(LIST_URL)
    SandboxDid.objects.filter(phonenumber=MAIN_LINE).update(name="Renamed at the carrier")
    assert "Renamed at the carrier" not in admin_client_.get(LIST_URL).content.decode()

    response = admin_client_.post(reverse("numbers:sync"))

    assert response.status_code == 302
    page = admin_client_.get(LIST_URL).content.decode()
    assert "Renamed at the carrier" in row(page, MAIN_LINE)
    assert "Synced 12 numbers and 1 DID group from CarrierX." in page
    assert SyncRun.objects.count() == 2
    latest = SyncRun.objects.latest()
    assert f'datetime="{latest.finished_at.isoformat()}"' in page


def test_sync_returns_to_the_list_as_it_was_filtered_and_never_off_site(synced, admin_client_):
    back = admin_client_.post(reverse("numbers:sync"), {"next": "/numbers/?group=none"})
    assert back["Location"] == "/numbers/?group=none"

    away = admin_client_.post(reverse("numbers:sync"), {"next": "https://evil.example/"})
    assert away["Location"] == LIST_URL


def test_a_sync_the_carrier_refuses_leaves_the_list_as_it_was(synced, admin_client_, settings):
    admin_client_.get(LIST_URL)
    settings.CARRIERX_API_URL = closed_port_url()

    page = admin_client_.post(reverse("numbers:sync"), follow=True).content.decode()

    assert "Could not sync with CarrierX; the list is unchanged" in page
    assert len(rows(page)) == 12


@pytest.mark.parametrize("typed", ["+1 (516) 206-5575", "516.206.5575", "15162065575", "206 5575"])
def test_the_number_filter_accepts_digits_typed_any_way(synced, admin_client_, typed):
    page = admin_client_.get(LIST_URL, {"number": typed}).content.decode()
    assert rows(page) == [MAIN_LINE]


def test_a_number_filter_without_digits_matches_nothing(synced, admin_client_):
    page = admin_client_.get(LIST_URL, {"number": "main"}).content.decode()
    assert rows(page) == []
    assert "No numbers match." in page


def test_the_group_filter_shows_the_groups_numbers_or_the_ungrouped_ones(synced, admin_client_):
    admin_client_.get(LIST_URL)
    support = SandboxDidGroup.objects.get().did_group_sid

    in_group = rows(admin_client_.get(LIST_URL, {"group": support}).content.decode())
    ungrouped = rows(admin_client_.get(LIST_URL, {"group": "none"}).content.decode())

    assert sorted(in_group) == ["15162065320", "15162065321", "15162065322"]
    assert len(ungrouped) == 9
    assert SUPPORT_1 not in ungrouped


def test_the_list_warns_about_numbers_whose_callback_does_not_reach_this_portal(
    synced, admin_client_
):
    page = admin_client_.get(LIST_URL).content.decode()
    assert "lost to us" not in page  # the seed points the partner at our webhook

    SandboxDid.objects.filter(phonenumber=MAIN_LINE).update(callback_url="https://elsewhere.test/")
    admin_client_.post(reverse("numbers:sync"))
    page = admin_client_.get(LIST_URL).content.decode()

    assert "1 number below has its SMS callbacks going elsewhere" in page
    assert "not this portal" in row(page, MAIN_LINE)
    assert "not this portal" not in row(page, SUPPORT_1)


def test_the_webhook_secret_is_shown_to_number_admins_only(synced, admin_client_, sender, settings):
    secret = settings.CARRIERX_WEBHOOK_SECRET
    assert secret in admin_client_.get(LIST_URL).content.decode()

    viewer = Client()
    viewer.force_login(sender)
    page = viewer.get(LIST_URL).content.decode()
    assert len(rows(page)) == 12
    assert secret not in page
    assert "this portal" in row(page, MAIN_LINE)
