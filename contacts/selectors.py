"""Reads of contacts: names for numbers (every list that shows a customer), search, exports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from contacts.models import Contact, ContactImport, ContactTag
from messaging.selectors.paging import MAX_ID
from portal.phones import number_matches
from portal.progress import read_progress, worker_lost

EXPORT_CHUNK = 1000
T = TypeVar("T")


def contact_names(numbers: Iterable[str]) -> dict[str, str]:
    """number → the name to show for it (the contact's name, or its company when it has no name),
    for the numbers among `numbers` that have a named contact; one query whatever the count."""
    wanted = {n for n in numbers if n}
    if not wanted:
        return {}
    rows = Contact.objects.filter(number__in=wanted).values_list("number", "name", "company")
    return {number: name or company for number, name, company in rows if name or company}


def contact_tags(numbers: Iterable[str]) -> dict[str, list[str]]:
    """number → its contact's tags, sorted, for the numbers among `numbers` whose contact has
    any; one query whatever the count (the inbox shows them on each conversation)."""
    wanted = {n for n in numbers if n}
    tags: dict[str, list[str]] = {}
    if wanted:
        rows = ContactTag.objects.filter(contact__number__in=wanted).order_by("name")
        for number, name in rows.values_list("contact__number", "name"):
            tags.setdefault(number, []).append(name)
    return tags


def contacts_matching(query: str) -> QuerySet[Contact]:
    """Contacts whose name or company holds `query`, that carry it as a tag, or whose
    number it is (typed any way: "+1 (516) 206-5575", "206-55"); all of them when it is blank.
    Newest first, for keyset paging by id."""
    contacts = Contact.objects.order_by("-id")
    # NUL: PostgreSQL refuses it in a pattern, and no stored text holds one.
    query = " ".join(query.replace("\x00", "").split())
    if not query:
        return contacts
    tag = query.lstrip("#").lower()
    match = (
        Q(name__icontains=query)
        | Q(company__icontains=query)
        | Exists(ContactTag.objects.filter(contact=OuterRef("pk"), name=tag))
    )
    if sum(ch.isdigit() for ch in query) >= 3:
        match |= number_matches("number", query)
    return contacts.filter(match)


def contact_or_404(pk: int) -> Contact:
    if not 0 < pk <= MAX_ID:
        raise Http404("No such contact.")
    contact = Contact.objects.prefetch_related("tag_rows").filter(pk=pk).first()
    if contact is None:
        raise Http404("No such contact.")
    return contact


def contact_for_number(number: str) -> Contact | None:
    return Contact.objects.filter(number=number).first()


def contacts_export_rows(contacts: QuerySet[Contact]) -> tuple[list[str], Iterator[list]]:
    """The export's header and rows: the import's columns (so an export imports back), then
    each free-form field as a column of its own."""
    keys: list[str] = []
    for fields in contacts.values_list("fields", flat=True).iterator(chunk_size=EXPORT_CHUNK):
        keys.extend(k for k in (fields or {}) if k not in keys)
    header = ["number", "name", "company", "tags", "notes", "created at", "updated at", *keys]

    def rows() -> Iterator[list]:
        for contact in contacts.prefetch_related("tag_rows").iterator(chunk_size=EXPORT_CHUNK):
            yield [
                contact.number,
                contact.name,
                contact.company,
                "; ".join(contact.tags),
                contact.notes,
                timezone.localtime(contact.created_at).isoformat(),
                timezone.localtime(contact.updated_at).isoformat(),
                *(contact.fields.get(k, "") for k in keys),
            ]

    return header, rows()


def with_contact_names(
    items: Iterable[T], number_of: Callable[[T], str], *, batch: int = 500
) -> Iterator[tuple[T, str]]:
    """Each of `items` with the contact name of its number ("" without one), the names read a
    batch of items at a time (one query each): for exports that stream in bounded memory."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == batch:
            yield from _named(chunk, number_of)
            chunk = []
    yield from _named(chunk, number_of)


def _named(chunk: list[T], number_of: Callable[[T], str]) -> Iterator[tuple[T, str]]:
    names = contact_names(number_of(item) for item in chunk)
    for item in chunk:
        yield item, names.get(number_of(item), "")


def contact_import_or_404(pk: int) -> ContactImport:
    if not 0 < pk <= MAX_ID:
        raise Http404("No such import.")
    job = ContactImport.objects.defer("data").filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    return job


def import_progress(job: ContactImport) -> dict:
    """What the import page shows: the counts per outcome once done; meanwhile how far the
    worker has read, and when it should finish at its pace so far; or that its worker died."""
    counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    for _row, _number, outcome, _reason in job.report:
        counts[outcome] = counts.get(outcome, 0) + 1
    return {
        "counts": counts,
        "worker_lost": worker_lost(task_id=job.task_id, finished=job.finished),
        **read_progress(job),
    }
