"""Sign-in: usernames match whatever their case (`ADMIN` signs in as `admin`), and the lockout
counts every spelling of one name together."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from portal import lookups


class CaseInsensitiveModelBackend(ModelBackend):
    """Django's ModelBackend, finding the user by exact username first and, failing that, by the
    one username that differs only in case. Two users that differ only in case (`Sam`, `sam`)
    can each sign in by their exact name; any other spelling is ambiguous and matches neither."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        model = get_user_model()
        if username is None:
            username = kwargs.get(model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        longest = model._meta.get_field(model.USERNAME_FIELD).max_length or 150
        # No stored name is longer than its column, and an over-long one would make SQLite's
        # LIKE (behind __iexact) refuse the pattern: such a name matches nobody.
        user = self._find(model, username) if len(str(username)) <= longest else None
        if user is None:
            # Hash anyway, so an unknown name takes as long as a wrong password (as Django does).
            model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    @staticmethod
    def _find(model, username: str):
        manager = model._default_manager
        try:
            return manager.get_by_natural_key(username)
        except model.DoesNotExist:
            pass
        same_but_case = list(manager.filter(**{f"{model.USERNAME_FIELD}__iexact": username})[:2])
        return same_but_case[0] if len(same_but_case) == 1 else None


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """What django-axes counts failures under: the typed name, cut to its column
    (`portal.lookups`), in lower case. Since any case signs in, counting `Admin` and `ADMIN`
    apart would give each spelling its own five tries."""
    username = lookups.axes_username(request, credentials)
    return username.lower() if isinstance(username, str) else username
