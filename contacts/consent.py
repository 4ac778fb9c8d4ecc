"""The consent record's writes by staff and by imports (the keyword ones are written where STOP
and START are applied, messaging/services/opt_out.py), and its reads for the contact page and
the export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from contacts.selectors import contact_names
from messaging.models import ConsentEvent, OptOut
from messaging.services.opt_out import STAFF_KEYWORD
from phone_numbers.models import Did

EXPORT_CHUNK = 1000
EXPORT_HEADER = [
    "number",
    "name",
    "DID",
    "opt in/out",
    "method",
    "detail",
    "when",
    "recorded by",
    "message id",
    "message text",
]


@dataclass
class StaffConsent:
    event: ConsentEvent
    # DIDs the customer still may not be texted from: their own STOP, which only their START lifts.
    still_opted_out: list[str]


def _dids_for(customer: str, our_number: str) -> set[str]:
    if our_number:
        return {our_number}
    # "Every DID": the ones we rent now, and any the customer has a standing with.
    rented = Did.objects.filter(released_at__isnull=True).values_list("phonenumber", flat=True)
    standing = OptOut.objects.filter(customer_number=customer).values_list("our_number", flat=True)
    return set(rented) | set(standing)


@transaction.atomic
def consent_staff_record(
    *, customer: str, our_number: str, kind: str, reason: str, user
) -> StaffConsent:
    """Record an opt-in or opt-out entered by staff, and apply it to what may be sent: an
    opt-out stops sends from the DID (or every DID) as a STOP does; an opt-in lifts only an
    opt-out staff entered, never the customer's own STOP."""
    now = timezone.now()
    event = ConsentEvent.objects.create(
        customer_number=customer,
        our_number=our_number,
        kind=kind,
        method=ConsentEvent.Method.STAFF,
        detail=reason,
        consented_at=now,
        recorded_by=user,
    )
    dids = _dids_for(customer, our_number)
    standing = {
        row.our_number: row
        for row in OptOut.objects.select_for_update().filter(
            customer_number=customer, our_number__in=dids
        )
    }
    still_opted_out: list[str] = []
    for did in sorted(dids):
        row = standing.get(did)
        if kind == ConsentEvent.Kind.OPT_OUT:
            if row is None:
                OptOut.objects.create(
                    customer_number=customer,
                    our_number=did,
                    opted_out=True,
                    keyword=STAFF_KEYWORD,
                    changed_at=now,
                )
            elif not row.opted_out:
                OptOut.objects.filter(pk=row.pk).update(
                    opted_out=True, keyword=STAFF_KEYWORD, changed_at=now, message=None
                )
            # Already opted out (by their STOP or by staff): left as it is, so their own STOP
            # keeps needing their own START.
        elif row is not None and row.opted_out:
            if row.keyword == STAFF_KEYWORD:
                OptOut.objects.filter(pk=row.pk).update(
                    opted_out=False, changed_at=now, message=None
                )
            else:
                still_opted_out.append(did)
    return StaffConsent(event=event, still_opted_out=still_opted_out)


def every_did_opt_outs_extend(our_number: str) -> int:
    """A DID new to us (rented here, or found by the sync): customers whose last word from staff
    for every DID is an opt-out may not be texted from it either, as from the DIDs we had when
    it was recorded. Returns how many customers that is."""
    latest: dict[str, str] = {}
    events = (
        ConsentEvent.objects.filter(our_number="", method=ConsentEvent.Method.STAFF)
        .order_by("customer_number", "-consented_at", "-id")
        .values_list("customer_number", "kind")
    )
    for customer, kind in events.iterator(chunk_size=EXPORT_CHUNK):
        latest.setdefault(customer, kind)
    customers = [c for c, kind in latest.items() if kind == ConsentEvent.Kind.OPT_OUT]
    now = timezone.now()
    OptOut.objects.bulk_create(
        [
            OptOut(
                customer_number=customer,
                our_number=our_number,
                opted_out=True,
                keyword=STAFF_KEYWORD,
                changed_at=now,
            )
            for customer in customers
        ],
        ignore_conflicts=True,  # a row of theirs for this number (a STOP, a START) stands
    )
    return len(customers)


def consent_import_event(
    *, customer: str, source: str, consented_at: datetime, user
) -> ConsentEvent:
    """An opt-in an imported list vouches for (every DID): recorded, never applied over a STOP."""
    return ConsentEvent(
        customer_number=customer,
        our_number="",
        kind=ConsentEvent.Kind.OPT_IN,
        method=ConsentEvent.Method.IMPORT,
        detail=source,
        consented_at=consented_at,
        recorded_by=user,
    )


def consent_events(customer: str | None = None) -> QuerySet[ConsentEvent]:
    """The record, newest first: one customer's, or everyone's."""
    events = ConsentEvent.objects.select_related("message", "recorded_by").order_by(
        "-consented_at", "-id"
    )
    if customer is not None:
        events = events.filter(customer_number=customer)
    return events


def consent_export_rows(events: QuerySet[ConsentEvent]) -> Iterator[list[object]]:
    """The export's rows, read a thousand at a time with the names of those thousand's numbers
    (one query each), so an account-wide export never holds the whole record in memory."""
    batch: list[ConsentEvent] = []
    for event in events.iterator(chunk_size=EXPORT_CHUNK):
        batch.append(event)
        if len(batch) == EXPORT_CHUNK:
            yield from _export_batch(batch)
            batch = []
    yield from _export_batch(batch)


def _export_batch(events: list[ConsentEvent]) -> Iterator[list[object]]:
    names = contact_names(event.customer_number for event in events)
    for event in events:
        message = event.message
        yield [
            event.customer_number,
            names.get(event.customer_number, ""),
            event.our_number or "every DID",
            "opt out" if event.kind == ConsentEvent.Kind.OPT_OUT else "opt in",
            event.get_method_display(),
            event.detail,
            timezone.localtime(event.consented_at).isoformat(),
            event.recorded_by.get_username() if event.recorded_by else "",
            message.pk if message else "",
            message.body if message else "",
        ]
