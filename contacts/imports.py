"""A CSV of contacts, as people bring it, merged into the contacts: one per number (typed any
way, deduplicated by E.164), existing ones updated, and a report saying for every row what
happened to it and why.

The file is read as campaign lists are (campaigns/recipients.py: encodings, BOM, delimiters,
size and row limits, the number column found by name or by contents)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from campaigns.recipients import RecipientList, read_csv
from contacts.consent import consent_import_event
from contacts.models import Contact, ContactImport, ContactTag
from contacts.tags import MAX_FIELD_KEY, MAX_FIELDS, tag_names
from contacts.tasks import contact_import_task
from messaging.models import ConsentEvent
from portal.phones import normalize_number
from portal.progress import job_enqueue, progress_recorder, rows_counted

CHUNK = 1000
# Columns with a meaning of their own; any other column becomes a free-form field.
TAG_COLUMNS = ("tags", "tag")
KNOWN_COLUMNS = {"name", "company", "notes", "consent_source", "consent_date", *TAG_COLUMNS}
US_DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d")

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
SKIPPED = "skipped"


@dataclass
class RowOutcome:
    row: int  # counted from the first row under the header
    number: str  # as typed in the file
    outcome: str
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[RowOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.count(o) for o in (CREATED, UPDATED, UNCHANGED, SKIPPED)}


@dataclass
class _Row:
    outcome: RowOutcome
    number: str
    values: dict[str, str]
    tags: list[str]
    fields: dict[str, str]
    consent: ConsentEvent | None
    # Without a date the import says "now", which is nothing new if this source came before.
    consent_dated: bool = False


def consent_date(text: str) -> datetime:
    """The consent date of an import row: ISO (2026-11-29, or with a time), or as US
    spreadsheets write it (11/29/2026); a bare date is midnight in the user's time zone."""
    text = text.strip()
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        for pattern in US_DATE_FORMATS:
            try:
                day = datetime.strptime(text, pattern).date()
                break
            except ValueError:
                continue
    if moment is None and day is None:
        raise ValidationError(f"consent date “{text[:40]}” is not a date (write it as 2026-11-29)")
    if moment is None:
        moment = datetime.combine(day, time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now():
        raise ValidationError(f"consent date “{text[:40]}” is in the future")
    return moment


def _read_row(index: int, cells: dict[str, str], people: RecipientList, user) -> _Row:
    raw = cells.get(people.phone_column, "").strip()
    outcome = RowOutcome(row=index, number=raw[:64], outcome=SKIPPED)
    row = _Row(outcome, "", {}, [], {}, None)
    if not raw:
        outcome.reason = "no number"
        return row
    try:
        row.number = normalize_number(raw)
    except ValidationError:
        outcome.reason = "not a valid number"
        return row
    source = cells.get("consent_source", "").strip()
    date_text = cells.get("consent_date", "").strip()
    if date_text and not source:
        outcome.reason = "a consent date without a consent source"
        return row
    if source:
        try:
            when = consent_date(date_text) if date_text else timezone.now()
        except ValidationError as err:
            outcome.reason = err.messages[0]
            return row
        row.consent = consent_import_event(
            customer=row.number, source=source[:300], consented_at=when, user=user
        )
        row.consent_dated = bool(date_text)
    row.values = {
        name: cells[name][:200] if name != "notes" else cells[name]
        for name in ("name", "company", "notes")
        if cells.get(name, "").strip()
    }
    row.tags = tag_names(";".join(cells.get(c, "") for c in TAG_COLUMNS))
    extra = [c for c in people.columns if c != people.phone_column and c not in KNOWN_COLUMNS]
    row.fields = {c[:MAX_FIELD_KEY]: cells[c] for c in extra[:MAX_FIELDS] if cells.get(c)}
    outcome.outcome = ""  # decided against what is stored
    return row


def _existing(numbers: list[str]) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        for contact in Contact.objects.filter(number__in=chunk).prefetch_related("tag_rows"):
            found[contact.number] = contact
    return found


def _known_consent(numbers: list[str]) -> set[tuple]:
    known: set[tuple] = set()
    for start in range(0, len(numbers), CHUNK):
        for number, detail, at in ConsentEvent.objects.filter(
            customer_number__in=numbers[start : start + CHUNK],
            method=ConsentEvent.Method.IMPORT,
        ).values_list("customer_number", "detail", "consented_at"):
            known.add((number, detail, at))
            known.add((number, detail, None))
    return known


def _changes(contact: Contact, row: _Row) -> list[str]:
    """What the row changes on a stored contact (applied to it), by field name. Empty cells
    leave a field as it is, and tags are added, never removed: an import only adds."""
    changed = [name for name, value in row.values.items() if getattr(contact, name) != value]
    for name in changed:
        setattr(contact, name, row.values[name])
    new_fields = {k: v for k, v in row.fields.items() if contact.fields.get(k) != v}
    if new_fields:
        contact.fields = {**contact.fields, **new_fields}
        changed.extend(new_fields)
    if set(row.tags) - set(contact.tags):
        changed.append("tags")
    return changed


def contacts_import(
    data: bytes,
    *,
    user,
    progress: Callable[[int, int], None] | None = None,
    finish: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Merge the CSV `data` into the contacts. ValidationError when the file as a whole cannot
    be read (encoding, size, no number column); otherwise every row is in the report.

    `progress(rows read, rows)` is called as the rows are read (outside any transaction, so
    another connection sees it); `finish(report)` inside the transaction that writes them, so
    an import is recorded as done exactly when its contacts are stored."""
    people = read_csv(data)
    rows = [
        _read_row(i, cells, people, user)
        for i, cells in enumerate(rows_counted(people.rows, progress), start=1)
    ]
    first_row: dict[str, int] = {}
    for row in rows:
        if row.outcome.outcome == SKIPPED:
            continue
        if row.number in first_row:
            row.outcome.outcome = SKIPPED
            row.outcome.reason = f"duplicate of row {first_row[row.number]}"
        else:
            first_row[row.number] = row.outcome.row
    report = ImportReport(rows=[row.outcome for row in rows])
    with transaction.atomic():
        _write([row for row in rows if row.outcome.outcome != SKIPPED], user)
        if finish is not None:
            finish(report)
    return report


def _write(applied: list[_Row], user) -> None:
    numbers = [row.number for row in applied]
    stored = _existing(numbers)
    known_consent = _known_consent(numbers)
    now = timezone.now()
    new: list[Contact] = []
    changed: list[Contact] = []
    tags: list[tuple[str, str]] = []
    consents: list[ConsentEvent] = []
    for row in applied:
        contact = stored.get(row.number)
        if contact is None:
            new.append(
                Contact(
                    number=row.number,
                    fields=row.fields,
                    created_by=user,
                    updated_by=user,
                    created_at=now,
                    updated_at=now,
                    **row.values,
                )
            )
            row.outcome.outcome = CREATED
            what = [name for name in ("name", "company", "notes") if name in row.values]
            what += [*row.fields, *(["tags"] if row.tags else [])]
        else:
            what = _changes(contact, row)
            if what:
                contact.updated_at, contact.updated_by = now, user
                changed.append(contact)
        tags.extend((row.number, tag) for tag in row.tags)
        consent = row.consent
        if consent is not None:
            key = (row.number, consent.detail, consent.consented_at if row.consent_dated else None)
            if key not in known_consent:
                known_consent.add(key)
                consents.append(consent)
                what.append("consent")
        if contact is not None:
            row.outcome.outcome = UPDATED if what else UNCHANGED
            row.outcome.reason = ", ".join(what) if what else "already up to date"
        else:
            row.outcome.reason = ", ".join(what)
    Contact.objects.bulk_create(new, batch_size=CHUNK)
    Contact.objects.bulk_update(
        changed,
        ["name", "company", "notes", "fields", "updated_at", "updated_by"],
        batch_size=CHUNK,
    )
    _add_tags(tags)
    ConsentEvent.objects.bulk_create(consents, batch_size=CHUNK)


def _add_tags(pairs: list[tuple[str, str]]) -> None:
    numbers = sorted({number for number, _ in pairs})
    ids: dict[str, int] = {}
    for start in range(0, len(numbers), CHUNK):
        ids.update(
            Contact.objects.filter(number__in=numbers[start : start + CHUNK]).values_list(
                "number", "pk"
            )
        )
    ContactTag.objects.bulk_create(
        [ContactTag(contact_id=ids[number], name=name) for number, name in pairs],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )


def contact_import_start(*, data: bytes, filename: str, user) -> ContactImport:
    """Keep the uploaded file and queue its import; the page then follows its progress."""
    job = ContactImport.objects.create(data=data, filename=filename[:255], created_by=user)
    job_enqueue(job, contact_import_task)
    return job


def contact_import_run(import_id: int) -> str:
    """The worker's side of an import: read the file with progress, store the contacts and the
    report. Safe to run again: an import already finished is left alone, and one that died
    midway wrote nothing (its writes and its "done" share one transaction)."""
    job = ContactImport.objects.filter(pk=import_id).first()
    if job is None or job.finished:
        return "nothing to do"
    imports = ContactImport.objects.filter(pk=import_id)
    imports.update(state=ContactImport.State.RUNNING, started_at=timezone.now(), rows_read=0)
    progress = progress_recorder(imports)

    def finish(report: ImportReport) -> None:
        imports.update(
            state=ContactImport.State.DONE,
            finished_at=timezone.now(),
            report=[[r.row, r.number, r.outcome, r.reason] for r in report.rows],
            data=b"",
        )

    try:
        report = contacts_import(
            bytes(job.data), user=job.created_by, progress=progress, finish=finish
        )
    except ValidationError as err:
        imports.update(
            state=ContactImport.State.FAILED,
            finished_at=timezone.now(),
            error=" ".join(err.messages),
            data=b"",
        )
        return "not imported: " + " ".join(err.messages)
    counts = report.counts
    return ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
