"""Every role change leaves a row saying who was added to or removed from which role, by whom and
when: through Django admin, from either side of the relation, and from a shell (no actor)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from portal.audit import current_actor
from portal.models import RoleChange
from tests.conftest import make_user


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", password="pw-root")


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


def user_change_form(client, user: User, *groups: Group) -> dict:
    """What Django admin's user change form posts for this user, with these groups ticked."""
    page = client.get(reverse("admin:auth_user_change", args=[user.pk]))
    inlines = {}
    for inline in page.context["inline_admin_formsets"]:  # e.g. the user's sending DIDs
        formset = inline.formset
        assert formset.initial_form_count() == 0, "this helper posts no inline rows"
        inlines |= {f"{formset.prefix}-TOTAL_FORMS": "0", f"{formset.prefix}-INITIAL_FORMS": "0"}
    joined = timezone.localtime(user.date_joined)
    return inlines | {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [group.pk for group in groups],
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "_save": "Save",
    }


def test_adding_and_removing_a_role_in_django_admin_records_the_admin_as_actor(root_client, root):
    nora = make_user("nora")
    number_admins = Group.objects.get(name="Number admins")
    url = reverse("admin:auth_user_change", args=[nora.pk])
    before = timezone.now()

    response = root_client.post(url, user_change_form(root_client, nora, number_admins))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(nora.groups.values_list("name", flat=True)) == ["Number admins"]

    added = RoleChange.objects.get()
    assert (added.user, added.username, added.group, added.action) == (
        nora,
        "nora",
        "Number admins",
        RoleChange.Action.ADDED,
    )
    assert (added.actor, added.actor_username) == (root, "root")
    assert before <= added.at <= timezone.now()

    response = root_client.post(url, user_change_form(root_client, nora))
    assert response.status_code == 302
    assert not nora.groups.exists()

    removed = RoleChange.objects.latest("pk")
    assert removed.pk != added.pk
    assert (removed.user, removed.group, removed.action, removed.actor) == (
        nora,
        "Number admins",
        RoleChange.Action.REMOVED,
        root,
    )
    assert RoleChange.objects.count() == 2
    # The actor belongs to that request only.
    assert current_actor() is None


def test_saving_the_form_without_changing_roles_records_nothing(root_client):
    sam = make_user("sam", "Senders")
    RoleChange.objects.all().delete()
    senders = Group.objects.get(name="Senders")

    url = reverse("admin:auth_user_change", args=[sam.pk])
    response = root_client.post(url, user_change_form(root_client, sam, senders))

    assert response.status_code == 302
    assert not RoleChange.objects.exists()


def test_changes_outside_a_request_have_no_actor(db):
    ines = make_user("ines", "Inbox staff")

    change = RoleChange.objects.get()
    assert change.user == ines
    assert (change.username, change.group, change.action) == ("ines", "Inbox staff", "added")
    assert change.actor is None
    assert change.actor_username == ""


def test_adding_users_from_the_groups_side_is_recorded_per_user(db):
    sam, ines = make_user("sam"), make_user("ines")
    senders = Group.objects.get(name="Senders")

    senders.user_set.add(sam, ines)
    senders.user_set.remove(ines)

    rows = RoleChange.objects.order_by("pk").values_list("username", "group", "action")
    assert list(rows) == [
        ("sam", "Senders", "added"),
        ("ines", "Senders", "added"),
        ("ines", "Senders", "removed"),
    ]


def test_clearing_a_users_roles_records_each_removal(db):
    nora = make_user("nora", "Number admins", "Senders")
    RoleChange.objects.all().delete()

    nora.groups.clear()

    rows = RoleChange.objects.values_list("group", "action")
    assert sorted(rows) == [("Number admins", "removed"), ("Senders", "removed")]


def test_the_audit_outlives_the_account(db):
    nora = make_user("nora", "Number admins")
    nora.delete()

    change = RoleChange.objects.get()
    assert change.user is None
    assert change.username == "nora"


def test_the_audit_is_read_only_in_django_admin(root_client):
    make_user("sam", "Senders")
    change = RoleChange.objects.get()

    listing = root_client.get(reverse("admin:portal_rolechange_changelist"))
    assert listing.status_code == 200
    assert "sam" in listing.content.decode()

    detail = root_client.get(reverse("admin:portal_rolechange_change", args=[change.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert root_client.get(reverse("admin:portal_rolechange_add")).status_code == 403
    delete_url = reverse("admin:portal_rolechange_delete", args=[change.pk])
    assert root_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert RoleChange.objects.filter(pk=change.pk).exists()


def test_rows_are_kept_in_time_order_newest_first(db):
    make_user("sam", "Senders")
    make_user("ines", "Inbox staff")
    RoleChange.objects.filter(username="sam").update(at=timezone.now() - timedelta(days=1))

    assert [change.username for change in RoleChange.objects.all()] == ["ines", "sam"]
