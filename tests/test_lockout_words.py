"""Signing in: the error says how many tries are left before the lock, the lock page says how an
administrator unlocks it, and usernames match whatever their case (an ambiguous case matches
nobody)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("login")


@pytest.fixture(autouse=True)
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password})


def words(response) -> str:
    # Durations keep their number and unit together with a no-break space.
    return response.content.decode().replace("\xa0", " ")


def test_the_login_error_counts_down_the_tries_left_before_the_lock():
    make_user("sam")
    client = Client()
    first = words(sign_in(client, "sam", "guess-1"))
    assert "2 tries left before this sign-in is locked for 30 minutes." in first
    assert first.count("Please enter a correct username and password") == 1
    second = words(sign_in(client, "sam", "guess-2"))
    assert "1 try left before this sign-in is locked for 30 minutes." in second


def test_the_lock_page_names_the_command_that_unlocks_the_user():
    make_user("sam")
    client = Client()
    answers = [sign_in(client, "sam", f"guess-{n}").status_code for n in range(3)]
    assert answers == [200, 200, 429]
    page = sign_in(client, "sam", "pw-sam").content.decode()
    assert "<code>manage.py axes_reset_username sam</code>" in page


def test_admin_in_capitals_signs_in_as_admin():
    admin = make_user("admin")
    client = Client()
    response = sign_in(client, "ADMIN", "pw-admin")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)


def test_two_users_differing_only_by_case_sign_in_by_their_exact_names_and_no_other():
    lower = make_user("sam")
    upper = User.objects.create_user("Sam", password="pw-sam")
    for typed, user in (("sam", lower), ("Sam", upper)):
        client = Client()
        assert sign_in(client, typed, "pw-sam").status_code == 302
        assert client.session["_auth_user_id"] == str(user.pk)
    client = Client()
    assert sign_in(client, "SAM", "pw-sam").status_code == 200  # ambiguous: neither
    assert "_auth_user_id" not in client.session


def test_every_spelling_of_a_name_counts_toward_one_lock():
    make_user("admin")
    client = Client()
    answers = [sign_in(client, name, "guess").status_code for name in ("admin", "Admin", "ADMIN")]
    assert answers == [200, 200, 429]
    page = sign_in(client, "admin", "pw-admin").content.decode()
    assert "Sign-in locked" in page
    assert "axes_reset_username admin" in page


def test_a_name_longer_than_any_username_is_a_failed_sign_in_not_a_crash():
    make_user("sam")
    client = Client(raise_request_exception=False)
    response = sign_in(client, "s" * 60_000, "pw-sam")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in words(response)
    assert "_auth_user_id" not in client.session
