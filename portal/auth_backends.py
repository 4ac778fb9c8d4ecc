"""Sign-in: usernames match whatever their case (`ADMIN` signs in as `admin`), and the lockout
counts every spelling of one name together."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib.auth import get_user_model, load_backend
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


def _granted_ids_sql() -> str:
    """The ids of the permissions a user holds, their own and their roles' (two `%s`: their id)."""
    q = connection.ops.quote_name
    user_model = get_user_model()
    own = user_model.user_permissions.through._meta.db_table
    member = user_model.groups.through._meta.db_table
    granted = Group.permissions.through._meta.db_table
    return (
        f"SELECT {q('permission_id')} FROM {q(own)} WHERE {q('user_id')} = %s "
        f"UNION SELECT g.{q('permission_id')} FROM {q(granted)} g "
        f"JOIN {q(member)} m ON m.{q('group_id')} = g.{q('group_id')} "
        f"WHERE m.{q('user_id')} = %s"
    )


def _permissions_of(user_id: int) -> set[str]:
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ct.{q('app_label')}, p.{q('codename')} "
            f"FROM {q(Permission._meta.db_table)} p "
            f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
            f"WHERE p.{q('id')} IN ({_granted_ids_sql()})",
            [user_id, user_id],
        )
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}


TRUE, FALSE = ("1 = 1", []), ("1 = 0", [])


def permission_condition(user, permission: str) -> tuple[str, list]:
    """A boolean SQL expression, and its parameters, that is true when `user` holds `permission`
    (`app_label.codename`) as `user.has_perm(permission)` answers it: for a statement that asks it
    beside its own question (a live poll's), read fresh there, so a role taken away counts at
    once. TRUE or FALSE without the database when the user alone decides (inactive, superuser),
    when this request already read their permissions, or when some other backend could grant
    one (then `has_perm` asks them all)."""
    if not user.is_active or user.is_anonymous:
        return FALSE
    if user.is_superuser:
        return TRUE
    if hasattr(user, "_perm_cache") or not _granted_here_only():
        return TRUE if user.has_perm(permission) else FALSE
    app_label, _, codename = permission.partition(".")
    return _permission_sql(connection.vendor), [app_label, codename, user.pk, user.pk]


@functools.cache
def _permission_sql(vendor: str) -> str:
    # Written once per database kind: every poll asks it, and building it cost more than a tenth
    # of what running it does.
    q = connection.ops.quote_name
    return (
        f"EXISTS (SELECT 1 FROM {q(Permission._meta.db_table)} p "
        f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE ct.{q('app_label')} = %s AND p.{q('codename')} = %s "
        f"AND p.{q('id')} IN ({_granted_ids_sql()}))"
    )


def _granted_here_only() -> bool:
    """Whether this backend is the only one that answers `has_perm` (as AUTHENTICATION_BACKENDS
    says today: django-axes' backend only refuses sign-ins)."""
    return _only_this_backend_grants(tuple(settings.AUTHENTICATION_BACKENDS))


@functools.cache
def _only_this_backend_grants(paths: tuple[str, ...]) -> bool:
    granting = [b for b in (load_backend(path) for path in paths) if hasattr(b, "has_perm")]
    return bool(granting) and all(isinstance(b, CaseInsensitiveModelBackend) for b in granting)
