"""Contacts: one per customer number, found by name, company, tag or number however it is typed,
edited, deleted, exported; names for numbers in one query; only Inbox staff see them."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ContactTag
from contacts.selectors import contact_names
from messaging.models import Conversation
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, inbox_staff):
    client.force_login(inbox_staff)
    return client


def contact(number, name="", company="", tags=()):
    c = Contact.objects.create(number=number, name=name, company=company)
    for tag in tags:
        ContactTag.objects.create(contact=c, name=tag)
    return c


def test_contact_names_gives_the_name_or_the_company_in_one_query():
    contact("15162065575", name="Ann Lee", company="Acme")
    contact("12125550142", company="Blue Ltd")
    contact("12125550143")  # no name, no company: nothing to show but the number
    with CaptureQueriesContext(connection) as queries:
        names = contact_names(["15162065575", "12125550142", "12125550143", "19999999999"] * 500)
    assert names == {"15162065575": "Ann Lee", "12125550142": "Blue Ltd"}
    assert len(queries) == 1


def test_contact_names_of_nothing_asks_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert contact_names([]) == {}
    assert len(queries) == 0


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ann", {"Ann Lee"}),
        ("ACME", {"Ann Lee"}),
        ("vip", {"Ann Lee", "Bob"}),
        ("#VIP", {"Ann Lee", "Bob"}),
        ("+1 (516) 206-5575", {"Ann Lee"}),
        ("5162065575", {"Ann Lee"}),
        ("555-01", {"Bob"}),
        ("nobody", set()),
    ],
)
def test_search_finds_contacts_by_name_company_tag_and_number(staff, query, found):
    contact("15162065575", name="Ann Lee", company="Acme", tags=["vip"])
    contact("12125550142", name="Bob", tags=["vip", "wholesale"])
    contact("13125550999", name="Cy")
    page = staff.get(reverse("contacts:list"), {"q": query}).content.decode()
    shown = {name for name in ("Ann Lee", "Bob", "Cy") if f">{name}</a>" in page}
    assert shown == found


def test_the_list_pages_by_keyset(staff, settings):
    for i in range(55):
        contact(f"1212555{i:04d}", name=f"Person {i:02d}")
    first = staff.get(reverse("contacts:list"))
    assert first.context["contacts"][0].name == "Person 54"
    assert len(first.context["contacts"]) == 50
    older = first.context["older_before"]
    second = staff.get(reverse("contacts:list"), {"before": older})
    assert [c.name for c in second.context["contacts"]] == [
        f"Person {i:02d}" for i in range(4, -1, -1)
    ]
    assert second.context["older_before"] == ""


def test_new_contact_is_stored_as_e164_digits_with_its_tags_and_fields(staff, inbox_staff):
    response = staff.post(
        reverse("contacts:new"),
        {
            "number": "+1 (516) 206-5575",
            "name": "Ann Lee",
            "company": "Acme",
            "tags": "VIP; #wholesale, vip",
            "notes": "Prefers texts",
            "extra_fields": "Account: 10442\nShoe size: 42",
        },
    )
    stored = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:detail", args=[stored.pk])
    assert (stored.number, stored.name, stored.company, stored.notes) == (
        "15162065575",
        "Ann Lee",
        "Acme",
        "Prefers texts",
    )
    assert stored.tags == ["vip", "wholesale"]
    assert stored.fields == {"Account": "10442", "Shoe size": "42"}
    assert stored.created_by == inbox_staff


def test_a_second_contact_for_the_same_number_is_refused(staff):
    contact("15162065575", name="Ann Lee")
    response = staff.post(reverse("contacts:new"), {"number": "516-206-5575", "name": "Other"})
    assert response.status_code == 200
    assert "is already the contact “Ann Lee”" in response.content.decode()
    assert Contact.objects.count() == 1


def test_add_contact_prefills_the_number_from_the_conversation(staff):
    page = staff.get(reverse("contacts:new"), {"number": "15162065575"}).content.decode()
    assert 'value="+1 516-206-5575"' in page


def test_add_contact_for_a_number_that_has_one_opens_it(staff):
    ann = contact("15162065575", name="Ann Lee")
    response = staff.get(reverse("contacts:new"), {"number": "15162065575"})
    assert response["Location"] == reverse("contacts:detail", args=[ann.pk])


def test_add_contact_from_a_conversation_makes_it_in_one_click_and_opens_it_to_be_named(
    staff, inbox_staff
):
    response = staff.post(reverse("contacts:add"), {"number": "15162065575"})
    ann = Contact.objects.get()
    assert (ann.number, ann.name, ann.created_by) == ("15162065575", "", inbox_staff)
    assert response["Location"] == reverse("contacts:detail", args=[ann.pk]) + "?added=1"
    page = staff.get(response["Location"]).content.decode()
    assert "Contact added for +1 516-206-5575. Give it a name." in page
    assert re.search(r'<input[^>]*name="name"[^>]*autofocus', page)


def test_add_contact_twice_opens_the_one_contact(staff):
    ann = contact("15162065575", name="Ann Lee")
    response = staff.post(reverse("contacts:add"), {"number": "+1 516 206 5575"})
    assert response["Location"] == reverse("contacts:detail", args=[ann.pk])
    assert list(Contact.objects.values_list("name", flat=True)) == ["Ann Lee"]


@pytest.mark.parametrize("typed", ["", "not a number", "1" * 40, "+1 555"])
def test_add_contact_with_something_that_is_not_a_number_adds_nothing_and_says_so(staff, typed):
    response = staff.post(reverse("contacts:add"), {"number": typed}, follow=True)
    assert response.status_code == 200
    assert "That is not a phone number: nothing was added." in response.content.decode()
    assert Contact.objects.count() == 0


def test_editing_replaces_tags_and_fields(staff):
    ann = contact("15162065575", name="Ann", tags=["vip", "old"])
    staff.post(
        reverse("contacts:detail", args=[ann.pk]),
        {"number": "15162065575", "name": "Ann Lee", "tags": "vip, new", "extra_fields": "A: 1"},
    )
    ann.refresh_from_db()
    assert (ann.name, ann.tags, ann.fields) == ("Ann Lee", ["new", "vip"], {"A": "1"})


def test_a_contacts_page_shows_its_number_as_people_write_it_and_saving_keeps_the_digits(staff):
    ann = contact("15162065575", name="Ann")
    page = staff.get(reverse("contacts:detail", args=[ann.pk])).content.decode()
    assert 'value="+1 516-206-5575"' in page
    assert 'value="15162065575"' not in page
    staff.post(
        reverse("contacts:detail", args=[ann.pk]), {"number": "+1 516-206-5575", "name": "Ann"}
    )
    ann.refresh_from_db()
    assert ann.number == "15162065575"


def test_a_field_line_without_a_colon_is_refused_with_the_line(staff):
    ann = contact("15162065575", name="Ann")
    response = staff.post(
        reverse("contacts:detail", args=[ann.pk]),
        {"number": "15162065575", "name": "Ann", "extra_fields": "just words"},
    )
    assert "“just words” has no name and value" in response.content.decode()


def test_the_contact_links_to_its_conversation_when_there_is_one(staff):
    ann = contact("15162065575", name="Ann")
    url = reverse("messaging:conversation", args=["15162065575"])
    assert url not in staff.get(reverse("contacts:detail", args=[ann.pk])).content.decode()
    Conversation.objects.create(customer_number="15162065575", last_activity_at=timezone.now())
    assert url in staff.get(reverse("contacts:detail", args=[ann.pk])).content.decode()


def test_delete_asks_first_then_deletes_only_the_contact(staff):
    ann = contact("15162065575", name="Ann", tags=["vip"])
    page = staff.get(reverse("contacts:delete", args=[ann.pk])).content.decode()
    assert "Delete the contact Ann?" in page
    assert Contact.objects.count() == 1
    staff.post(reverse("contacts:delete", args=[ann.pk]))
    assert Contact.objects.count() == 0
    assert ContactTag.objects.count() == 0


def test_export_lists_every_contact_with_its_fields_as_columns(staff):
    contact("15162065575", name="Ann", tags=["vip", "a"])
    bob = contact("12125550142", name="=HYPERLINK()", company="Blue")
    bob.fields = {"Account": "7"}
    bob.save()
    response = staff.get(reverse("contacts:export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["number", "name", "company", "tags", "notes"]
    assert rows[0][-1] == "Account"
    assert [r[:4] + r[-1:] for r in rows[1:]] == [
        ["15162065575", "Ann", "", "a; vip", ""],
        ["12125550142", "'=HYPERLINK()", "Blue", "", "7"],
    ]


CONTACT_URLS = [
    ("contacts:list", []),
    ("contacts:new", []),
    ("contacts:import", []),
    ("contacts:export", []),
    ("contacts:consent_export", []),
    ("contacts:detail", ["PK"]),
    ("contacts:delete", ["PK"]),
    ("contacts:contact_consent_export", ["PK"]),
    ("contacts:import_report", ["PK"]),
]


@pytest.mark.parametrize(("name", "args"), CONTACT_URLS)
def test_a_sender_without_inbox_staff_gets_403_on_every_contacts_url(client, name, args):
    ann = contact("15162065575", name="Ann")
    client.force_login(make_user("sam", "Senders"))
    url = reverse(name, args=[ann.pk if a == "PK" else a for a in args])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code in (403, 405)
    assert client.post(reverse("contacts:consent", args=[ann.pk])).status_code == 403
    assert client.post(reverse("contacts:add"), {"number": "15162065576"}).status_code == 403
    assert Contact.objects.count() == 1


def test_the_nav_shows_contacts_to_inbox_staff_only(client):
    client.force_login(make_user("sam", "Senders"))
    assert reverse("contacts:list") not in client.get(reverse("messaging:send")).content.decode()
    client.force_login(make_user("ines", "Inbox staff"))
    assert reverse("contacts:list") in client.get(reverse("messaging:inbox")).content.decode()
    client.force_login(make_user("root", superuser=True))
    assert reverse("contacts:list") in client.get(reverse("messaging:inbox")).content.decode()
