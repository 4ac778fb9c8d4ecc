"""`manage.py ensure_admin`, which `make run` calls: an administrator can always sign in, with the
password from the environment or one made up and printed once."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

PRINTED = re.compile(r"Admin user: (\S+)\s+password: (\S+)")


@pytest.fixture(autouse=True)
def _no_admin_in_the_environment(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ensure_admin() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def signs_in(username: str, password: str) -> bool:
    """Through the real sign-in form, as a person would."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302 and client.get("/admin/").status_code == 200


def test_without_the_environment_it_creates_admin_with_a_random_password_it_prints():
    output = ensure_admin()

    username, password = PRINTED.search(output).groups()
    assert username == "admin"
    assert len(password) >= 16
    admin = User.objects.get()
    assert (admin.username, admin.is_staff, admin.is_superuser) == ("admin", True, True)
    assert signs_in("admin", password)
    assert not signs_in("admin", password + "x")


def test_two_installs_get_different_passwords():
    first = PRINTED.search(ensure_admin()).group(2)
    User.objects.all().delete()
    assert PRINTED.search(ensure_admin()).group(2) != first


def test_running_it_again_keeps_the_admin_and_its_password_and_prints_no_new_one():
    password = PRINTED.search(ensure_admin()).group(2)

    again = ensure_admin()

    assert PRINTED.search(again) is None
    assert "Admin user “admin” exists" in again
    assert User.objects.count() == 1
    assert signs_in("admin", password)


def test_the_environments_username_and_password_are_used_and_never_printed(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "chosen-by-the-operator-42")

    output = ensure_admin()

    assert "chosen-by-the-operator-42" not in output
    assert "Admin user “boss” has the password from the environment." in output
    boss = User.objects.get()
    assert (boss.username, boss.is_staff, boss.is_superuser) == ("boss", True, True)
    assert signs_in("boss", "chosen-by-the-operator-42")


def test_a_changed_password_in_the_environment_replaces_the_old_one(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-password-of-boss-1")
    ensure_admin()
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "second-password-of-boss-2")
    ensure_admin()

    assert User.objects.count() == 1
    assert signs_in("boss", "second-password-of-boss-2")
    assert not signs_in("boss", "first-password-of-boss-1")


def test_an_existing_user_of_that_name_is_made_an_administrator(monkeypatch):
    User.objects.create_user("boss", password="old-password-of-boss-1")
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "new-password-of-boss-2")

    ensure_admin()

    boss = User.objects.get()
    assert (boss.is_staff, boss.is_superuser) == (True, True)
    assert signs_in("boss", "new-password-of-boss-2")
