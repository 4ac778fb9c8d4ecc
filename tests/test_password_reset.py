"""Password reset by email: offered only when email is configured (EMAIL_URL), and throttled per
email address and per client address, counted in the database that every process shares."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from portal.models import PasswordResetRequest
from tests.test_security import run_django

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
RESET = "/accounts/password_reset/"
RESET_PAGES = [RESET, "/accounts/password_reset/done/", "/accounts/reset/done/"]
RESET_PAGES.append("/accounts/reset/MQ/set-password/")


@pytest.fixture
def email_on(settings) -> None:
    settings.EMAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR = 3
    settings.PASSWORD_RESET_PER_ADDRESS_PER_HOUR = 10


@pytest.fixture
def ines() -> User:
    return User.objects.create_user("ines", "ines@example.com", "pw-ines")


def ask(client, email: str, address: str = "198.51.100.7"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=address)


def test_without_email_the_reset_pages_do_not_exist_and_the_login_page_has_no_link(
    client, settings, ines
):
    settings.EMAIL_CONFIGURED = False

    assert [client.get(url).status_code for url in RESET_PAGES] == [404] * len(RESET_PAGES)
    assert ask(client, "ines@example.com").status_code == 404
    assert mail.outbox == []
    assert not PasswordResetRequest.objects.exists()
    login = client.get(LOGIN).content.decode()
    assert RESET not in login
    assert "Forgotten your password?" not in login


def test_with_email_the_login_page_links_to_a_reset_that_mails_a_working_link(
    client, email_on, ines
):
    login = client.get(LOGIN).content.decode()
    assert f'<a href="{RESET}">Forgotten your password?</a>' in login
    assert client.get(RESET).status_code == 200

    response = ask(client, "ines@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    [message] = mail.outbox
    assert message.to == ["ines@example.com"]
    link = next(word for word in message.body.split() if "/accounts/reset/" in word)
    form = client.get(link.removeprefix("http://testserver"), follow=True)
    assert b"Set a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
    )
    assert done["Location"] == "/accounts/reset/done/"
    ines.refresh_from_db()
    assert ines.check_password("a new long passphrase")


def test_one_email_address_may_be_asked_for_three_times_an_hour(client, email_on, ines):
    answers = [ask(client, "ines@example.com", f"203.0.113.{n}").status_code for n in range(4)]

    assert answers == [302, 302, 302, 429]
    assert len(mail.outbox) == 3
    # Counted on the address as typed in any case, and whether or not it has an account.
    assert ask(client, "INES@example.com", "203.0.113.9").status_code == 429
    assert ask(client, "nobody@example.com", "203.0.113.9").status_code == 302
    refused = ask(client, "ines@example.com", "203.0.113.10")
    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode()
    assert len(mail.outbox) == 3

    # An hour later the address may ask again.
    PasswordResetRequest.objects.update(at=timezone.now() - timedelta(minutes=61))
    assert ask(client, "ines@example.com").status_code == 302
    assert len(mail.outbox) == 4
    assert PasswordResetRequest.objects.count() == 1  # the old rows are gone


def test_one_client_address_may_ask_only_so_often_whatever_the_email(client, settings, email_on):
    settings.PASSWORD_RESET_PER_ADDRESS_PER_HOUR = 2
    here, elsewhere = "198.51.100.7", "192.0.2.44"

    answers = [ask(client, f"user{n}@example.com", here).status_code for n in range(3)]

    assert answers == [302, 302, 429]
    assert ask(client, "user9@example.com", elsewhere).status_code == 302
    assert list(PasswordResetRequest.objects.order_by("pk").values_list("email", "address")) == [
        ("user0@example.com", here),
        ("user1@example.com", here),
        ("user9@example.com", elsewhere),
    ]


def test_email_url_configures_the_mail_backend_and_switches_reset_on(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_CONFIGURED, s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"
    )
    configured = run_django(
        tmp_path, "-c", script, EMAIL_URL="smtp+tls://portal:pw@smtp.example.com:587"
    )
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.split() == [
        "True",
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "True",
    ]
    unconfigured = run_django(tmp_path, "-c", script)
    assert unconfigured.stdout.split()[0] == "False"
