"""One INSERT with the values Django would write, without the ORM's per-save machinery.

The webhook inserts a message and an event for every inbound text; `Model.save()` spends most of
its time building the statement (signals, field lookups, the SQL compiler), several times what the
database takes to run it. Values are prepared by each field exactly as `save()` prepares them
(`pre_save`, so `auto_now_add` is filled; `get_db_prep_save`, so dates, JSON and decimals are what
the backend expects). The SQL is `INSERT … ON CONFLICT … DO NOTHING RETURNING id`, which PostgreSQL
and SQLite (3.35+) both speak.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import connection, models


@cache
def _statement(model: type[models.Model], conflict_column: str | None) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    conflict = f" ON CONFLICT ({quote(conflict_column)}) DO NOTHING" if conflict_column else ""
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks}){conflict} "
        f"RETURNING {quote(model._meta.pk.column)}"
    )
    return sql, fields


def insert(obj: models.Model, *, unless_exists: str | None = None) -> bool:
    """Insert `obj` and set its pk; with `unless_exists` (a unique column), do nothing when a row
    already holds that value, and return False."""
    sql, fields = _statement(type(obj), unless_exists)
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


def insert_many(
    objs: list[models.Model], *, returning: str = "", params: Sequence = ()
) -> tuple | None:
    """Insert objects of one model in one statement (no pks back: callers that need them use
    `insert`). `returning` (SQL, with `params`) is computed in the same statement and its first
    row returned: a question asked with the rows costs no second round trip."""
    if not objs:
        return None
    fields = tuple(f for f in type(objs[0])._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(type(objs[0])._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in fields)}) VALUES {', '.join([row] * len(objs))}"
            + (f" RETURNING {returning}" if returning else ""),
            [*values, *params],
        )
        return cursor.fetchone() if returning else None
