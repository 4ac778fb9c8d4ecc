"""The Messages list: every message, filtered, a page at a time; its CSV export; one message
with everything the carrier sent about it."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from messaging.forms import MessageFilterForm
from messaging.selectors.messages import message_events, messages_matching
from messaging.selectors.paging import keyset_page, parse_id
from messaging.selectors.visibility import did_limit, message_visible_or_404
from portal.permissions import VIEW_INBOX
from portal.roles import role_required

PAGE_SIZE = 50
EXPORT_CHUNK_ROWS = 2000
EXPORT_COLUMNS = [
    ("id", "id"),
    ("created_at", "created_at"),
    ("direction", "direction"),
    ("our_did", "our_number"),
    ("customer", "their_number"),
    ("status", "status"),
    ("segments", "segments"),
    ("price", "price"),
    ("message_sid", "message_sid"),
    ("sent_by", "sent_by__username"),
    ("body", "body"),
]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

inbox_required = role_required(VIEW_INBOX)


def _filters_query(request: HttpRequest, form: MessageFilterForm) -> str:
    """The filters as they were typed, for the Older and Export links (without the page)."""
    return urlencode([(k, v) for k, v in request.GET.items() if k in form.fields and v])


@require_GET
@login_required
@inbox_required
def message_list(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET, did_limit=did_limit(request.user))
    before = request.GET.get("before", "")
    rows: list = []
    more = False
    # Invalid filters show their errors and no rows, never a wrongly filtered list.
    if form.is_valid():
        matching = messages_matching(request.user, form.cleaned_data)
        rows, more = keyset_page(matching, size=PAGE_SIZE, before=before)
    return render(
        request,
        "messaging/messages.html",
        {
            "form": form,
            "rows": rows,
            "filters": _filters_query(request, form),
            "older_before": rows[-1].pk if more else "",
            "paged": parse_id(before) is not None,
        },
    )


class _Echo:
    """The file-like object csv.writer needs; each write hands the line back to stream it."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in EXPORT_COLUMNS])
    batch: list[str] = []
    for pk, created_at, *rest in rows:
        when = timezone.localtime(created_at).isoformat(timespec="seconds")
        batch.append(writer.writerow([pk, when, *map(_cell, rest)]))
        # A few hundred lines per write: far fewer socket writes than one per row.
        if len(batch) == 500:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


@require_GET
@login_required
@inbox_required
def messages_export(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET, did_limit=did_limit(request.user))
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        return HttpResponseBadRequest(
            f"Cannot export: {problems}", content_type="text/plain; charset=utf-8"
        )
    # Tuples, not model instances, read from the database a chunk at a time (a server-side
    # cursor on PostgreSQL): memory stays flat however many rows match.
    rows = (
        messages_matching(request.user, form.cleaned_data)
        .values_list(*(field for _, field in EXPORT_COLUMNS))
        .iterator(chunk_size=EXPORT_CHUNK_ROWS)
    )
    filename = f"messages-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        _csv_lines(rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@require_GET
@login_required
@inbox_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if parse_id(str(pk)) is None:
        raise Http404("No such message.")
    message = message_visible_or_404(request.user, pk)
    context = {"message": message, "events": message_events(message)}
    return render(request, "messaging/message_detail.html", context)
