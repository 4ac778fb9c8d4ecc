"""Sign-in: usernames match whatever their case (`ADMIN` signs in as `admin`), and the lockout
counts every spelling of one name together."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
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

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        """The user's permissions, their own and their roles', in one statement instead of
        Django's two: every signed-in page and every live poll asks once."""
        if (
            user_obj.is_active
            and not user_obj.is_anonymous
            and not user_obj.is_superuser
            and obj is None
            and not hasattr(user_obj, "_perm_cache")
        ):
            user_obj._perm_cache = _permissions_of(user_obj.pk)
        return super().get_all_permissions(user_obj, obj)

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


def _permissions_of(user_id: int) -> set[str]:
    q = connection.ops.quote_name
    user_model = get_user_model()
    own = user_model.user_permissions.through._meta.db_table
    member = user_model.groups.through._meta.db_table
    granted = Group.permissions.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ct.{q('app_label')}, p.{q('codename')} "
            f"FROM {q(Permission._meta.db_table)} p "
            f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
            f"WHERE p.{q('id')} IN ("
            f"SELECT {q('permission_id')} FROM {q(own)} WHERE {q('user_id')} = %s "
            f"UNION SELECT g.{q('permission_id')} FROM {q(granted)} g "
            f"JOIN {q(member)} m ON m.{q('group_id')} = g.{q('group_id')} "
            f"WHERE m.{q('user_id')} = %s)",
            [user_id, user_id],
        )
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
