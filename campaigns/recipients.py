"""A recipient list, as people bring it (a CSV export, numbers pasted from anywhere), turned into
a campaign's recipients: each row kept, the ones that will not be texted marked with why.

The preview page shows exactly these counts, and the dispatcher sends to exactly the rows left.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from campaigns.models import Campaign, Recipient
from messaging.models import Direction, Message, OptOut
from messaging.text_templates import variable_name
from phone_numbers.models import Did
from portal.phones import normalize_number
from portal.progress import rows_counted

MAX_LIST_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
PHONE_HEADERS = ("phone", "phone_number", "mobile", "cell", "number", "to", "msisdn", "tel")
# "+1 (212) 555-0142", "2125550142", "44 20 7946 0958": digits with the usual separators.
_PHONE_LIKE = re.compile(r"^\s*\+?[\d\s().\-]{7,24}\s*$")


@dataclass
class RecipientList:
    """What a list holds: one dict of cells per data row, and which cell is the number."""

    columns: list[str]  # variable names, in column order
    phone_column: str
    rows: list[dict[str, str]] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if len(data) > MAX_LIST_BYTES:
        raise ValidationError(
            f"The list is {len(data) / 1_048_576:.1f} MB; at most "
            f"{MAX_LIST_BYTES // 1_048_576} MB can be read at once. Split it into smaller lists."
        )
    for encoding in ("utf-8-sig", "cp1252"):  # Excel on Windows still saves cp1252
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _dialect(text: str):
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _is_header(cells: Sequence[str]) -> bool:
    """A first row with no phone-number-like cell and some letters is a header."""
    return not any(_PHONE_LIKE.match(c) for c in cells) and any(
        any(ch.isalpha() for ch in c) for c in cells
    )


def _phone_index(header: Sequence[str], sample: Sequence[Sequence[str]]) -> int:
    for name in PHONE_HEADERS:
        if name in header:
            return header.index(name)
    width = max((len(r) for r in sample), default=len(header))
    scores = [
        sum(1 for r in sample if i < len(r) and _PHONE_LIKE.match(r[i])) for i in range(width)
    ]
    if not scores or max(scores) == 0:
        raise ValidationError(
            "No column of phone numbers was found. Put the numbers in a column headed "
            "“phone”, or in the first column."
        )
    return scores.index(max(scores))


def read_csv(data: bytes) -> RecipientList:
    """Read an uploaded CSV: a header row when there is one (its names become variables, `First
    Name` → `{first_name}`), the phone column found by its name or by its contents."""
    text = _decode(data)
    try:
        table = [row for row in csv.reader(io.StringIO(text), _dialect(text)) if any(row)]
    except csv.Error as err:
        raise ValidationError(f"The file could not be read as CSV: {err}.") from None
    if not table:
        raise ValidationError("The file holds no rows.")
    if len(table) > MAX_ROWS + 1:
        raise ValidationError(f"The list has {len(table):,} rows; at most {MAX_ROWS:,} at once.")
    first = [cell.strip() for cell in table[0]]
    if _is_header(first):
        header = _unique_names(first)
        body = table[1:]
    else:
        header = _unique_names([f"column_{i + 1}" for i in range(max(len(r) for r in table))])
        body = table
    width = len(header)
    phone = header[_phone_index(header, body[:50])]
    # PostgreSQL stores no NUL in text or JSON; a damaged file's NULs are dropped, not fatal.
    rows = [
        {
            header[i]: (row[i].replace("\x00", "").strip()[:500] if i < len(row) else "")
            for i in range(width)
        }
        for row in body
    ]
    return RecipientList(columns=header, phone_column=phone, rows=rows)


def _unique_names(cells: Sequence[str]) -> list[str]:
    names: list[str] = []
    for i, cell in enumerate(cells):
        name = variable_name(cell) or f"column_{i + 1}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def read_pasted(text: str) -> RecipientList:
    """Numbers pasted one per line, or separated by commas or semicolons."""
    if len(text) > MAX_LIST_BYTES:
        raise ValidationError("That is too much text to paste; upload it as a CSV file instead.")
    numbers = [part.strip() for part in re.split(r"[\n,;]+", text) if part.strip()]
    if len(numbers) > MAX_ROWS:
        raise ValidationError(f"{len(numbers):,} numbers pasted; at most {MAX_ROWS:,} at once.")
    return RecipientList(
        columns=["phone"], phone_column="phone", rows=[{"phone": n[:64]} for n in numbers]
    )


def list_merge(people: RecipientList | None, typed: RecipientList | None) -> RecipientList | None:
    """A file's rows and pasted numbers as one list: the pasted numbers join the file's rows
    with only their number."""
    if people is None or typed is None:
        return people or typed
    people.rows += [{people.phone_column: row["phone"]} for row in typed.rows]
    return people


def read_list(data: bytes | None, pasted: str) -> RecipientList | None:
    """The list from a file's bytes, pasted numbers, or both; None when neither was given."""
    people = read_csv(data) if data else None
    typed = read_pasted(pasted) if pasted.strip() else None
    return list_merge(people, typed)


def sticky_did(number: str, pool: Sequence[str], last_used: dict[str, str]) -> str:
    """The DID of the pool this customer gets: the one they last exchanged texts with, so the
    thread continues; otherwise one picked by the number alone, the same for every campaign
    with this pool."""
    if last_used.get(number) in pool:
        return last_used[number]
    digest = hashlib.sha256(number.encode()).digest()
    return pool[int.from_bytes(digest[:4], "big") % len(pool)]


def dids_assign(
    numbers: Sequence[str], pool: Sequence[str], last_used: dict[str, str], held: set[str]
) -> dict[str, str]:
    """Each customer's DID of the pool. Who has texted with one of them keeps it (sticky_did),
    and so does who is in `held` (an opt-out on some DID of the pool, judged against that
    choice); everyone else is spread evenly, filling the least used DID first, so the campaign
    takes as long as the list over the pool's pace, not as long as a DID that chance gave more.
    A spread customer is sticky from their first text on: later campaigns find it in
    `last_used`."""
    assigned = {n: sticky_did(n, pool, last_used) for n in numbers if n in held or n in last_used}
    load = Counter(assigned.values())
    dids = list(dict.fromkeys(pool))
    least = [(load[did], index) for index, did in enumerate(dids)]
    heapq.heapify(least)
    for number in numbers:
        if number not in assigned:
            count, index = heapq.heappop(least)
            assigned[number] = dids[index]
            heapq.heappush(least, (count + 1, index))
    return assigned


def _last_did_by_customer(numbers: Iterable[str], pool: Sequence[str]) -> dict[str, str]:
    """Each customer's most recent DID among the pool (one query per thousand numbers)."""
    found: dict[str, str] = {}
    numbers = list(numbers)
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start : start + 1000]
        for their, ours in (
            Message.objects.filter(their_number__in=chunk, our_number__in=pool)
            .exclude(direction=Direction.OUTBOUND, status="cancelled")
            .order_by("their_number", "-id")
            .values_list("their_number", "our_number")
        ):
            found.setdefault(their, ours)
    return found


def _opt_outs(numbers: Sequence[str]) -> set[tuple[str, str]]:
    """(customer, our DID) for every opt-out of these customers (one query per thousand)."""
    out: set[tuple[str, str]] = set()
    for start in range(0, len(numbers), 1000):
        out.update(
            OptOut.objects.filter(
                customer_number__in=numbers[start : start + 1000], opted_out=True
            ).values_list("customer_number", "our_number")
        )
    return out


@transaction.atomic
def recipients_prepare(campaign: Campaign, people: RecipientList) -> dict[str, int]:
    """Replace the campaign's recipients with the rows of `people`, each either to be sent
    (with its sticky DID) or removed with its reason. Returns the count per reason and `send`."""
    return recipients_write(campaign, people, recipients_classify(campaign, people))


def recipients_classify(
    campaign: Campaign,
    people: RecipientList,
    progress: Callable[[int, int], None] | None = None,
) -> list[Recipient]:
    """The recipients `people` makes for `campaign` (its DIDs and cap), unsaved: the slow part
    of reading a list (every number parsed), writing nothing, so a background read can report
    `progress(rows read, rows)` outside the transaction that stores them."""
    pool = list(campaign.dids)
    ours = set(Did.objects.filter(released_at__isnull=True).values_list("phonenumber", flat=True))
    parsed: list[tuple[int, str, str, dict]] = []
    for row_number, cells in enumerate(rows_counted(people.rows, progress), start=1):
        raw = cells.get(people.phone_column, "")
        try:
            number = normalize_number(raw)
        except ValidationError:
            number = ""
        variables = {k: v for k, v in cells.items() if k != people.phone_column}
        variables[people.phone_column] = raw
        parsed.append((row_number, raw, number, variables))
    good = list(dict.fromkeys(n for _, _, n, _ in parsed if n))  # in list order, once each
    last_used = _last_did_by_customer(good, pool)
    opt_outs = _opt_outs(good)
    held = {n for n, did in opt_outs if did in pool} | (set(good) & ours)
    assigned = dids_assign(good, pool, last_used, held)
    opted = opt_outs & set(assigned.items())

    seen: set[str] = set()
    kept = 0
    rows = []
    for row_number, raw, number, variables in parsed:
        reason = ""
        if not number:
            reason = Recipient.Reason.UNPARSABLE
        elif number in ours:
            reason = Recipient.Reason.OUR_DID
        elif number in seen:
            reason = Recipient.Reason.DUPLICATE
        elif (number, assigned[number]) in opted:
            reason = Recipient.Reason.OPTED_OUT
        elif campaign.cap is not None and kept >= campaign.cap:
            reason = Recipient.Reason.OVER_CAP
        if number:
            seen.add(number)
        if not reason:
            kept += 1
        rows.append(
            Recipient(
                row=row_number,
                raw_number=raw[:64],
                number=number,
                variables=variables,
                our_number=assigned.get(number, ""),
                state=Recipient.State.REMOVED if reason else Recipient.State.PENDING,
                reason=reason,
            )
        )
    return rows


@transaction.atomic
def recipients_write(
    campaign: Campaign, people: RecipientList, rows: list[Recipient]
) -> dict[str, int]:
    """Store `rows` (recipients_classify's) as the campaign's recipients, in place of any it
    had. Returns the count per reason and `send`."""
    for r in rows:
        r.campaign = campaign
    campaign.recipients.all().delete()
    Recipient.objects.bulk_create(rows, batch_size=1000)
    campaign.columns = people.columns
    campaign.save(update_fields=["columns", "updated_at"])
    counts = {reason.value: 0 for reason in Recipient.Reason}
    for r in rows:
        if r.reason:
            counts[r.reason] += 1
    counts["send"] = sum(1 for r in rows if not r.reason)
    return counts
