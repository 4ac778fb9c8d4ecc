from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure an administrator can sign in: DJANGO_SUPERUSER_USERNAME (default admin) with "
        "DJANGO_SUPERUSER_PASSWORD, or a generated password printed once."
    )

    def handle(self, *args, **options) -> None:
        import os

        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None and not password:
            self.stdout.write(f"Admin user “{username}” exists; sign in with its password.")
            return
        if user is None:
            user = User(username=username, is_staff=True, is_superuser=True)
        generated = not password
        password = password or secrets.token_urlsafe(12)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        if generated:
            self.stdout.write(
                self.style.SUCCESS(f"Admin user: {username}   password: {password}")
                + "\n(set DJANGO_SUPERUSER_PASSWORD to choose your own)"
            )
        else:
            self.stdout.write(f"Admin user “{username}” has the password from the environment.")
