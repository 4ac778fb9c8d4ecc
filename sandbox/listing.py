"""List routes: the carrier's envelope, limit/offset pagination, `order` and `filter`
(CARRIERX.md §7).

`filter=phonenumber like "%555%" and name eq 'Main line'` — clauses `<attr> <op> <value>` joined
by ` and `; values may be quoted (needed when they hold spaces); an unquoted `null` means no value.
`capabilities bit 2` (fields marked `bits`) keeps rows with that bit set. A route may also take
clauses of its own (`special`, e.g. `phonenumber nearby latlng:40.7,-74.0`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils.dateparse import parse_date, parse_datetime

from sandbox.api import ApiError

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
# Longer filters are no query a client means; `like` patterns turn into regexes, keep them small.
MAX_FILTER_LENGTH = 2000

LOOKUPS = {"eq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte", "like": "regex"}
OPERATORS = [*LOOKUPS, "ne"]

CLAUSE = re.compile(
    r"""\s*(?P<attr>[A-Za-z_][\w.]*)\s+(?P<op>[A-Za-z]+)\s+
        (?P<value>"[^"]*"|'[^']*'|\S+)\s*""",
    re.VERBOSE,
)
AND = re.compile(r"and\s+", re.IGNORECASE)


def text(value: str) -> str:
    return value


def integer(value: str) -> int:
    """A whole number the database can compare: within a signed 64-bit integer."""
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(value)
    return number


def timestamp(value: str) -> dt.datetime:
    """ISO date or date-time; naive values are UTC, as the carrier's are."""
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(value)
        parsed = dt.datetime.combine(day, dt.time())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        # In UTC now, as the database will want it: `0001-01-01T00:00+14:00` is before year 1.
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(value) from None


@dataclass(frozen=True)
class Field:
    """An attribute clients may filter and order on: the ORM path, and how to read a value."""

    path: str
    convert: Callable[[str], object] = text
    # An integer of capability bits: `bit N` is allowed.
    bits: bool = False


# A route's own clause: (attribute, operator) → what it does to the queryset with the raw value.
Special = dict[tuple[str, str], Callable[[QuerySet, str | None], QuerySet]]


def like_to_regex(pattern: str) -> str:
    """SQL LIKE (`%` any run, `_` one character) as an anchored regex, alike on SQLite and
    PostgreSQL (whose LIKE differ in case sensitivity)."""
    wild = {"%": ".*", "_": "."}
    return "^" + "".join(wild.get(char, re.escape(char)) for char in pattern) + "$"


def _unquote(raw: str) -> str | None:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return None if raw == "null" else raw


def _clauses(expression: str) -> list[tuple[str, str, str | None]]:
    clauses = []
    pos = 0
    while True:
        match = CLAUSE.match(expression, pos)
        if match is None:
            raise ApiError(
                400,
                "invalid filter",
                [("filter", f"expected `<attribute> <operator> <value>` at: {expression[pos:]!r}")],
            )
        clauses.append((match["attr"], match["op"].lower(), _unquote(match["value"])))
        pos = match.end()
        if pos == len(expression):
            return clauses
        joiner = AND.match(expression, pos)
        if joiner is None:
            raise ApiError(
                400,
                "invalid filter",
                [("filter", f"join clauses with ` and ` (found {expression[pos:]!r})")],
            )
        pos = joiner.end()


def _bit(queryset: QuerySet, attr: str, field: Field, raw: str | None, n: int) -> QuerySet:
    try:
        bit = int(raw or "")
    except ValueError:
        bit = 0
    if bit <= 0 or bit > 2**30 or bit & (bit - 1):
        raise ApiError(400, "invalid filter", [("filter", f"{attr} bit needs a power of two")])
    alias = f"_bit_{n}"
    return queryset.alias(**{alias: F(field.path).bitand(bit)}).filter(**{alias: bit})


def apply_filter(
    queryset: QuerySet,
    expression: str,
    fields: dict[str, Field],
    special: Special | None = None,
) -> QuerySet:
    for n, (attr, op, raw) in enumerate(_clauses(expression)):
        if special and (attr, op) in special:
            queryset = special[(attr, op)](queryset, raw)
            continue
        field = fields.get(attr)
        if field is None:
            raise ApiError(
                400,
                "invalid filter",
                [("filter", f"cannot filter on {attr!r}; use one of {', '.join(sorted(fields))}")],
            )
        if op == "bit" and field.bits:
            queryset = _bit(queryset, attr, field, raw, n)
            continue
        if op not in OPERATORS:
            raise ApiError(
                400,
                "invalid filter",
                [("filter", f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")],
            )
        if raw is None:
            if op not in ("eq", "ne"):
                raise ApiError(400, "invalid filter", [("filter", f"{op} cannot compare to null")])
            queryset = queryset.filter(**{f"{field.path}__isnull": op == "eq"})
            continue
        if op == "like":
            if field.convert is not text:
                raise ApiError(400, "invalid filter", [("filter", f"{attr} is not text: no like")])
            value: object = like_to_regex(raw)
        else:
            try:
                value = field.convert(raw)
            except ValueError:
                raise ApiError(
                    400, "invalid filter", [("filter", f"{raw!r} is not a valid {attr}")]
                ) from None
        if op == "ne":
            # `ne` keeps rows without a value too, as SQL's `IS DISTINCT FROM` would.
            queryset = queryset.filter(
                ~Q(**{field.path: value}) | Q(**{f"{field.path}__isnull": True})
            )
        else:
            queryset = queryset.filter(**{f"{field.path}__{LOOKUPS[op]}": value})
    return queryset


def apply_order(queryset: QuerySet, expression: str, fields: dict[str, Field]) -> QuerySet:
    attr, _, direction = expression.strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if attr not in fields or direction not in ("asc", "desc"):
        raise ApiError(
            400,
            "invalid order",
            [("order", f"use `<attribute> [asc|desc]` with one of {', '.join(sorted(fields))}")],
        )
    sign = "-" if direction == "desc" else ""
    # pk breaks ties, so pages never repeat or skip rows that compare equal.
    return queryset.order_by(sign + fields[attr].path, sign + "pk")


def bounded_int(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(400, f"invalid {name}", [(name, f"must be an integer from {low} to {high}")])
    return value


def page_url(request: HttpRequest, *, limit: int, offset: int) -> str:
    query = request.GET.copy()
    query["limit"] = str(limit)
    query["offset"] = str(offset)
    return request.build_absolute_uri(request.path) + "?" + query.urlencode()


def list_response_body(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    fields: dict[str, Field],
    serialize: Callable[[object], dict],
    special: Special | None = None,
    count_total: bool = True,
) -> dict:
    """The carrier's list envelope for one page of `queryset`, after `filter` and `order`.

    Without `order`, rows come in the order a `special` clause set (nearest first, say), else by
    pk. `count_total=False` answers `total: null`, as the carrier does for endpoints it does not
    count (available_dids); `has_more` then comes from reading one row past the page.
    """
    limit = bounded_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = bounded_int(request, "offset", 0, 0, 2**31 - 1)
    if len(request.GET.get("filter", "")) > MAX_FILTER_LENGTH:
        raise ApiError(
            400, "invalid filter", [("filter", f"must be at most {MAX_FILTER_LENGTH} characters")]
        )
    if request.GET.get("filter", "").strip():
        queryset = apply_filter(queryset, request.GET["filter"], fields, special)
    if request.GET.get("order", "").strip():
        queryset = apply_order(queryset, request.GET["order"], fields)
    elif not queryset.query.order_by:
        queryset = queryset.order_by("pk")

    if count_total:
        total = queryset.count()
        rows = list(queryset[offset : offset + limit])
        has_more = offset + len(rows) < total
    else:
        total = None
        rows = list(queryset[offset : offset + limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    items = [serialize(obj) for obj in rows]
    pagination = {}
    if has_more:
        pagination["next"] = page_url(request, limit=limit, offset=offset + limit)
    if offset > 0:
        pagination["previous"] = page_url(request, limit=limit, offset=max(0, offset - limit))
    return {
        "count": len(items),
        "has_more": has_more,
        "items": items,
        "limit": limit,
        "offset": offset,
        "pagination": pagination,
        "total": total,
    }


def _cursor_url(request: HttpRequest, *, limit: int, **cursor: str) -> str:
    query = request.GET.copy()
    for name in ("after", "before", "offset"):
        query.pop(name, None)
    query.update(cursor)
    query["limit"] = str(limit)
    return request.build_absolute_uri(request.path) + "?" + query.urlencode()


def cursor_list_response_body(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    fields: dict[str, Field],
    serialize: Callable[[object], dict],
    key: str,
    when: str,
    special: Special | None = None,
) -> dict:
    """The carrier's list envelope, paged by record: `after=<key>` is the page of rows inserted
    after that row (by `when`, then pk), `before=<key>` the page just before it; `pagination`
    links the next and previous pages the same way, as the carrier's detail records do
    (CARRIERX-MORE.md §5.1). Not counted (`total: null`). With `order=`, the offset paging of
    `list_response_body` instead."""
    after, before = request.GET.get("after", ""), request.GET.get("before", "")
    if request.GET.get("order", "").strip():
        if after or before:
            raise ApiError(400, "invalid order", [("order", "not with after or before")])
        return list_response_body(
            request,
            queryset,
            fields=fields,
            serialize=serialize,
            special=special,
            count_total=False,
        )
    if after and before:
        raise ApiError(400, "invalid paging", [("before", "send after or before, not both")])
    limit = bounded_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = bounded_int(request, "offset", 0, 0, 2**31 - 1)
    anchor = None
    if after or before:
        name, value = ("after", after) if after else ("before", before)
        if len(value) > 100:
            raise ApiError(400, f"invalid {name}", [(name, "is no record SID")])
        anchor = queryset.filter(**{key: value}).values(when, "pk").first()
        if anchor is None:
            raise ApiError(400, f"invalid {name}", [(name, f"no record {value!r}")])
    if len(request.GET.get("filter", "")) > MAX_FILTER_LENGTH:
        raise ApiError(
            400, "invalid filter", [("filter", f"must be at most {MAX_FILTER_LENGTH} characters")]
        )
    if request.GET.get("filter", "").strip():
        queryset = apply_filter(queryset, request.GET["filter"], fields, special)

    def later(row: dict) -> Q:
        return Q(**{f"{when}__gt": row[when]}) | Q(**{when: row[when], "pk__gt": row["pk"]})

    def earlier(row: dict) -> Q:
        return Q(**{f"{when}__lt": row[when]}) | Q(**{when: row[when], "pk__lt": row["pk"]})

    forward = queryset.order_by(when, "pk")
    if before:
        rows = list(
            queryset.filter(earlier(anchor)).order_by(f"-{when}", "-pk")[offset:][: limit + 1]
        )
        has_previous = len(rows) > limit
        rows = rows[:limit][::-1]
        has_more = True
    else:
        if anchor is not None:
            forward = forward.filter(later(anchor))
        rows = list(forward[offset : offset + limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        has_previous = anchor is not None or offset > 0
    pagination = {}
    if rows and has_more:
        last = {when: getattr(rows[-1], when), "pk": rows[-1].pk}
        if before:
            has_more = queryset.filter(later(last)).exists()
        if has_more:
            pagination["next"] = _cursor_url(request, limit=limit, after=getattr(rows[-1], key))
    if rows and has_previous:
        first = {when: getattr(rows[0], when), "pk": rows[0].pk}
        if queryset.filter(earlier(first)).exists():
            pagination["previous"] = _cursor_url(
                request, limit=limit, before=getattr(rows[0], key), offset="0"
            )
    items = [serialize(obj) for obj in rows]
    return {
        "count": len(items),
        "has_more": "next" in pagination,
        "items": items,
        "limit": limit,
        "offset": offset,
        "pagination": pagination,
        "total": None,
    }
