"""INSERTs with the values Django would write, without the ORM's per-save machinery.

The webhook inserts a message and an event for every inbound text (`insert`), and the file rows of
every inbound MMS (`insert_rows`); `Model.save()` spends most of its time building the statement
(signals, field lookups, the SQL compiler), several times what the database takes to run it.
`insert` prepares values by each field exactly as `save()` prepares them (`pre_save`, so
`auto_now_add` is filled; `get_db_prep_save`, so dates, JSON and decimals are what the backend
expects); its SQL is `INSERT … ON CONFLICT … DO NOTHING RETURNING id`, which PostgreSQL and SQLite
(3.35+) both speak.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    fixed: Mapping[str, object] | None = None,
    returning: str = "",
    params: Sequence = (),
) -> tuple | None:
    """Insert rows of `model` in one statement, without building a model object per row (no pks
    back: callers that need them use `insert`).

    Each row gives the values of `columns` (attribute names, such as `position` or `message_id`)
    as the database takes them: ints and strings, which every field passes through unchanged.
    `fixed` values are the same in every row and are prepared by their field once per call. Every
    other column gets its field's default; a default that changes per call (a callable,
    `auto_now`) must be given instead. `returning` (SQL, with `params`) is computed in the same
    statement and its first row returned: a question asked with the rows costs no second round
    trip. The inbound MMS webhook writes its file rows so: preparing each row's dozen values field
    by field cost it more than the INSERT itself (bench/RESULTS.md, run K)."""
    if not rows:
        return None
    fixed = fixed or {}
    meta = model._meta
    sql, defaults = _rows_statement(model, tuple(columns), tuple(fixed), len(rows), returning)
    shared = [
        *(
            meta.get_field(name).get_db_prep_save(value, connection)
            for name, value in fixed.items()
        ),
        *defaults,
    ]
    values = [value for row in rows for value in (*row, *shared)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        return cursor.fetchone() if returning else None


@cache
def _rows_statement(
    model: type[models.Model], columns: tuple, fixed: tuple, count: int, returning: str
) -> tuple[str, tuple]:
    """The INSERT for `count` rows, and the values of the columns left to their defaults, prepared
    once per process. A default of NULL, a whole number or an empty string is written into the
    SQL (nothing to quote): a dozen fewer parameters per row for the driver to bind."""
    meta = model._meta
    given = [meta.get_field(name) for name in (*columns, *fixed)]
    rest = [f for f in meta.concrete_fields if not f.primary_key and f not in given]
    marks, defaults = ["%s"] * len(given), []
    for field in rest:
        per_call = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if per_call or (field.has_default() and callable(field.default)):
            raise ValueError(f"{meta.label}.{field.name} changes per call: give its value")
        value = field.get_db_prep_save(field.get_default(), connection)
        if value is None:
            marks.append("NULL")
        elif value == "":
            marks.append("''")
        elif type(value) is int:
            marks.append(str(value))
        else:
            marks.append("%s")
            defaults.append(value)
    quote = connection.ops.quote_name
    row = f"({', '.join(marks)})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(f.column) for f in (*given, *rest))}) VALUES {', '.join([row] * count)}"
        + (f" RETURNING {returning}" if returning else "")
    )
    return sql, tuple(defaults)
