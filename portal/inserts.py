"""INSERTs and UPDATEs with the values Django would write, without the ORM's per-save machinery.

The webhook inserts a message and an event for every inbound text (`insert`), and the file rows of
every inbound MMS (`insert_rows`); `Model.save()` spends most of its time building the statement
(signals, field lookups, the SQL compiler), several times what the database takes to run it.
`insert` prepares values by each field exactly as `save()` prepares them (`pre_save`, so
`auto_now_add` is filled; `get_db_prep_save`, so dates, JSON and decimals are what the backend
expects); its SQL is `INSERT … ON CONFLICT … DO NOTHING RETURNING id`, which PostgreSQL and SQLite
(3.35+) both speak. `update` is `save(update_fields=…)` the same way, for every status
callback, and `update_rows` is `bulk_update` for a campaign dispatcher's batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.operations import BaseDatabaseOperations


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
    return row_written(obj, *insert_parts(obj, unless_exists=unless_exists)) is not None


def row_written(obj: models.Model, sql: str, values: list) -> tuple | None:
    """Run a statement that writes `obj`'s row and returns its pk first; `obj` then stands for
    that row, and the returned row is the statement's answer. None, `obj` untouched, when it
    wrote no row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is not None:
        saved(obj, row[0])
    return row


def insert_parts(
    obj: models.Model, *, unless_exists: str | None = None, leave: tuple[str, ...] = ()
) -> tuple[str, list]:
    """What `insert` runs, for a caller that makes it part of a larger statement: its SQL and
    values. Columns named in `leave` (attribute names, such as `message_id`) are left out, for
    the caller to write (a SELECT reading another part's RETURNING); the SQL is then only
    `INSERT INTO table (columns) `, the left columns last, for the caller to follow with its row
    source, and `unless_exists` is not used."""
    if leave:
        sql, fields = _select_statement(type(obj), leave)
    else:
        sql, fields = _statement(type(obj), unless_exists)
    return sql, prepared(obj, fields, add=True)


@cache
def _select_statement(model: type[models.Model], leave: tuple[str, ...]) -> tuple[str, tuple]:
    fields = tuple(
        f for f in model._meta.concrete_fields if not f.primary_key and f.attname not in leave
    )
    quote = connection.ops.quote_name
    left = [quote(model._meta.get_field(name).column) for name in leave]
    columns = ", ".join([*(quote(f.column) for f in fields), *left])
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) ", fields


def prepared(obj: models.Model, fields, *, add: bool) -> list:
    """Each field's value as `save()` prepares it: for an INSERT (`add`: `auto_now_add` filled
    in) or an UPDATE (`auto_now` filled in).

    A field whose value is None or of exactly the Python type it writes unchanged (`_AS_IS`) is
    written as it is: what its `get_db_prep_save` would return after a few calls, and a message
    has ~20 such columns, inserted for every new text the webhook takes."""
    # The wrapper itself, not the `connection` proxy: every attribute read through that is a
    # thread-local lookup, and the fields read it a dozen times a row (a quarter of the time).
    db = connections[DEFAULT_DB_ALIAS]
    as_is = _AS_IS_INTEGERS if _integers_as_is(db.vendor) else _AS_IS
    values = []
    for f in fields:
        value = f.pre_save(obj, add)
        kind = as_is.get(type(f))
        if kind is not None and (value is None or type(value) is kind):
            values.append(value)
        else:
            values.append(f.get_db_prep_save(value, db))
    return values


# Exactly these classes (a subclass may convert): text and booleans pass through every backend.
_AS_IS = {models.CharField: str, models.TextField: str, models.BooleanField: bool}
_AS_IS_INTEGERS = {
    **_AS_IS,
    models.IntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
}


@cache
def _integers_as_is(vendor: str) -> bool:
    """Whether this backend writes an int unchanged: PostgreSQL's (psycopg 3) wraps each in the
    column's integer type, so ints keep the field's own preparation there."""
    return (
        type(connection.ops).adapt_integerfield_value
        is BaseDatabaseOperations.adapt_integerfield_value
    )


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


def insert_with_rows(
    obj: models.Model,
    *,
    unless_exists: str,
    link: str,
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    fixed: Mapping[str, object] | None = None,
    returning: str = "",
    params: Sequence = (),
) -> tuple | None:
    """PostgreSQL only: `insert(obj, unless_exists=...)` and `insert_rows(model, columns, rows,
    fixed=...)` of one or more rows whose `link` column (`message_id`) points at `obj`, in one
    statement (a WITH whose parts both insert), so the rows cost no round trip of their own.
    SQLite cannot insert inside a WITH, and needs no such saving (no round trips). None when a row
    already holds obj's `unless_exists` value: nothing is inserted. Else obj gets its pk, as from
    `insert`, and the answer is (pk, *returning)."""
    fixed = fixed or {}
    sql, parent_fields, defaults = _with_rows_statement(
        type(obj), unless_exists, model, link, tuple(columns), tuple(fixed), len(rows), returning
    )
    meta = model._meta
    values = [
        *prepared(obj, parent_fields, add=True),
        *(
            meta.get_field(name).get_db_prep_save(value, connection)
            for name, value in fixed.items()
        ),
        *defaults,
        *(value for row in rows for value in row),
        *params,
    ]
    return row_written(obj, sql, values)


@cache
def _with_rows_statement(
    parent: type[models.Model],
    conflict_column: str,
    model: type[models.Model],
    link: str,
    columns: tuple,
    fixed: tuple,
    count: int,
    returning: str,
) -> tuple[str, tuple, tuple]:
    parent_sql, parent_fields = _statement(parent, conflict_column)
    meta, quote = model._meta, connection.ops.quote_name
    given = tuple(meta.get_field(name) for name in (link, *columns, *fixed))
    rest, rest_marks, defaults = _left_to_defaults(model, given)
    pk = quote(parent._meta.pk.column)
    names = [f"c{i}" for i in range(len(columns))]
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    targets = ", ".join(quote(f.column) for f in (*given, *rest))
    # Unquoted literals and parameters in the SELECT take the types of the columns they fill.
    sql = (
        f"WITH parent AS ({parent_sql}), child AS ("
        f"INSERT INTO {quote(meta.db_table)} ({targets}) "
        f"SELECT parent.{pk}, {', '.join(f'v.{n}' for n in names)}, "
        f"{', '.join(['%s'] * len(fixed) + rest_marks)} "
        f"FROM parent, (VALUES {', '.join([row] * count)}) AS v ({', '.join(names)})) "
        f"SELECT parent.{pk}{', ' + returning if returning else ''} FROM parent"
    )
    return sql, parent_fields, defaults


@cache
def _left_to_defaults(model: type[models.Model], given: tuple) -> tuple[list, list, tuple]:
    """The columns of `model` not `given` (and not its pk), how each is written in the SQL, and
    the values of those written as parameters: each field's default, prepared once per process.
    A default of NULL, a whole number or an empty string is written into the SQL (nothing to
    quote): a dozen fewer parameters per row for the driver to bind."""
    meta = model._meta
    rest = [f for f in meta.concrete_fields if not f.primary_key and f not in given]
    marks, defaults = [], []
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
    return rest, marks, tuple(defaults)


@cache
def _rows_statement(
    model: type[models.Model], columns: tuple, fixed: tuple, count: int, returning: str
) -> tuple[str, tuple]:
    """The INSERT for `count` rows, and the parameters of the columns left to their defaults."""
    meta = model._meta
    given = tuple(meta.get_field(name) for name in (*columns, *fixed))
    rest, rest_marks, defaults = _left_to_defaults(model, given)
    quote = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(given) + rest_marks)})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(f.column) for f in (*given, *rest))}) VALUES {', '.join([row] * count)}"
        + (f" RETURNING {returning}" if returning else "")
    )
    return sql, defaults


def update(obj: models.Model, names: Sequence[str]) -> None:
    """`obj.save(update_fields=names)`: those fields' values, prepared as `save()` prepares them
    (`pre_save`, so `auto_now` fields take the time), written to its row."""
    sql, values = update_parts(obj, names)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def update_parts(obj: models.Model, names: Sequence[str]) -> tuple[str, list]:
    """What `update` runs, for a caller that makes it part of a larger statement."""
    meta, quote = obj._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    values = prepared(obj, fields, add=False)
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s"
    return sql, [*values, obj.pk]


# Rows per UPDATE of `update_rows`: far under SQLite's 32,766 parameters for any model here.
UPDATE_ROWS_BATCH = 200


def update_rows(objs: Sequence[models.Model], names: Sequence[str]) -> None:
    """`bulk_update(objs, names)`: those fields of each object written to its row, prepared as
    `save()` prepares them (an `auto_now` field named takes the time, which `bulk_update` would
    not give it), matched by primary key, in one statement per UPDATE_ROWS_BATCH rows.

    The rows' values are a VALUES list the UPDATE joins on, where the ORM builds a `CASE WHEN pk
    = … THEN …` per field and row; compiling those was a quarter of a campaign dispatcher's CPU
    (bench/RESULTS.md, run AD). PostgreSQL types each VALUES column from what it holds (text for
    a NULL or a plain string), so every value is cast to its column's type there; SQLite takes
    any value into any column and needs none."""
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    fields = [model._meta.get_field(name) for name in names]
    for start in range(0, len(objs), UPDATE_ROWS_BATCH):
        batch = objs[start : start + UPDATE_ROWS_BATCH]
        sql = _update_rows_sql(model, tuple(names), len(batch))
        values = []
        for obj in batch:
            values += [obj.pk, *prepared(obj, fields, add=False)]
        with connection.cursor() as cursor:
            cursor.execute(sql, values)


@cache
def _update_rows_sql(model: type[models.Model], names: tuple, count: int) -> str:
    meta, quote = model._meta, connection.ops.quote_name
    fields = [meta.pk, *(meta.get_field(name) for name in names)]
    table = quote(meta.db_table)

    def value(field) -> str:
        column = f"_rows.{quote(field.column)}"
        if connection.vendor != "postgresql":
            return column
        return f"CAST({column} AS {field.db_type(connection)})"

    row = f"({', '.join(['%s'] * len(fields))})"
    sets = ", ".join(f"{quote(f.column)} = {value(f)}" for f in fields[1:])
    return (
        f"WITH _rows ({', '.join(quote(f.column) for f in fields)}) "
        f"AS (VALUES {', '.join([row] * count)}) "
        f"UPDATE {table} SET {sets} FROM _rows "
        f"WHERE {table}.{quote(meta.pk.column)} = {value(meta.pk)}"
    )


def saved(obj: models.Model, pk) -> None:
    """`obj` now stands for the row the database gave `pk`, as if `save()` had written it."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias
