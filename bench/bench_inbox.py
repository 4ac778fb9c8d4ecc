"""Inbox at 1M stored messages and 20,000 contacts on PostgreSQL: the first page of each list
(All, Mine, Unassigned, Done), older pages, a busy customer's conversation (the full two-pane page
and the right pane alone, as htmx asks for it), the "nothing new" polls, and the dashboard over 30
days, against gunicorn with one client.

Goal (issue 16): the inbox keeps its p95 with contact names shown and the Mine / Unassigned
filters; the "nothing new" poll stays ≤ 1 KB. Each list's first page is checked for the names of
its conversations' contacts.

Goal (issue 17): the dashboard for 30 days p95 ≤ the inbox's first page p95 in the same run; the
recounts of its per-day totals are timed too (the first counts every day, the periodic one 7).

Goal (issue 6): p95 ≤ 100 ms for pages and the conversation; the "nothing new" poll ≤ 10 ms and
≤ 1 KB. Goal (issue 18): a "nothing new" poll costs ≤ 2 × a bare signed-in Django view
(bench/baseline_urls.py, served by a second gunicorn on the same database, so the same session
cookie signs in there), in CPU per request and in p95. The polls and the bare view are timed in
BENCH_POLL_ROUNDS rounds, their order rotating each round, so a busy machine's drift hits all
three alike. Times are client wall time over loopback (request written → response read), which
is server time plus a few tens of microseconds. After timing, each view runs once in-process and
every SELECT it issued is EXPLAIN ANALYZEd (bench/out/inbox_explain.txt), so a slow page names
its query.

The data (1M messages over 20k customers and 5 DIDs; their conversations, 60 % done, the open ones
a third each the bench user's, a teammate's and nobody's; a contact with tags for every customer;
system lines for the recent conversations; 50k callback events) is written with COPY into
`bench_inbox` (plus BENCH_DB_SUFFIX, so two checkouts keep one each) and kept: a re-run that finds
it, marked with this version of the dataset (DATASET), skips generation.

    .venv/bin/python bench/bench_inbox.py   # BENCH_INBOX_MESSAGES, BENCH_INBOX_REQUESTS,
                                            # BENCH_POLL_ROUNDS, BENCH_INBOX_GROUPS
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import sys
import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline_urls import SIGNED_IN_PATH  # noqa: E402
from bench.common import (  # noqa: E402
    OUT,
    Conn,
    Database,
    Server,
    baseline_env,
    cpu_delta,
    cpu_seconds,
    migrate,
    percentile,
    pg_available,
    portal_env,
    print_machine,
    print_table,
    request_bytes,
    strict,
)

MESSAGES = int(os.environ.get("BENCH_INBOX_MESSAGES", "1000000"))
CUSTOMERS = 20_000  # one contact each
EVENTS = 50_000  # callback events for the newest messages
LINED = 4_000  # the most recent conversations carry system lines (assigned, took, done, reopened)
TEAMMATES = 5  # inbox staff besides the bench user, to assign conversations to
# Written on the conversation table once generated: a dataset of another shape is regenerated.
DATASET = f"bench_inbox v2: {MESSAGES} messages, {CUSTOMERS} contacts, states, assignees, lines"
REQUESTS = int(os.environ.get("BENCH_INBOX_REQUESTS", "200"))
POLL_ROUNDS = int(os.environ.get("BENCH_POLL_ROUNDS", "3"))  # polls and bare view: REQUESTS each
# Only these groups of requests (lists, conversation, polls; comma-separated); default every one.
ONLY = {g for g in os.environ.get("BENCH_INBOX_GROUPS", "").split(",") if g}
WARMUP = 20
DEADLINE_S = 90  # per request kind: a pathological page stops the loop, not the machine
DIDS = [f"1516206557{n}" for n in range(5)]
AREA_CODES = [212, 305, 312, 415, 512, 516, 617, 646, 702, 718, 786, 917]
BODIES = [
    "Is my order ready for pickup?",
    "Yes, 3pm works for me. Thanks!",
    "Can you resend the confirmation code?",
    "Running 10 minutes late, sorry",
    "What are your opening hours on Sunday?",
    "Thanks, received",
    "Please call me back when you get a chance.",
    "Your appointment is confirmed for tomorrow at 9:30. Reply C to cancel.",
    "Your code is 482913. It expires in 10 minutes.",
    "Hi! Your package is out for delivery and should arrive between 2 and 5 pm today.",
    "Do you have the blue one in a size 10?",
    "We received your payment of $42.50. Thank you!",
    "OK",
    "Can I move my booking to Friday?",
    "Reminder: your table for 4 is booked at 7:30 pm tonight.",
    "STOP",
]
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dmitri",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Marco",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tariq",
]
LAST_NAMES = [
    "Alvarez",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nguyen",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
]
COMPANIES = [
    "Bayside Dental",
    "Harbor Freight Co",
    "Luna Bakery",
    "Northwind",
    "Pine Street Gym",
    "Summit Realty",
    "Tasty Thai",
    "Urban Florist",
    "Westfield Auto",
    "Zen Spa",
]
TAGS = [
    "vip",
    "wholesale",
    "new",
    "late-payer",
    "spanish",
    "newsletter",
    "pickup",
    "delivery",
    "b2b",
    "event-2026",
    "referral",
    "callback",
]
OUT_STATUSES = ["delivered"] * 85 + ["failed"] * 8 + ["sent"] * 4 + ["queued"] * 2 + ["sending"]
PAGE_GOAL_MS, POLL_GOAL_MS, POLL_GOAL_BYTES = 100.0, 10.0, 1024
POLL_PER_BARE_GOAL = 2.0  # issue 18: a "nothing new" poll ≤ 2 × the bare signed-in view


# --- data ------------------------------------------------------------------------------------


def _copy(model, columns: list[str], rows) -> int:
    """COPY rows (tuples in `columns` order) into `model`'s table. Non-null fields not listed
    get their model default, so columns added later by a migration do not break this."""
    from django.db import connection

    fields = {f.attname: f for f in model._meta.concrete_fields}
    rest = [
        f for name, f in fields.items() if name not in columns and not f.null and not f.primary_key
    ]
    extra = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    names = [fields[c].column for c in columns] + [f.column for f in rest]
    sql = "COPY {} ({}) FROM STDIN".format(
        connection.ops.quote_name(model._meta.db_table),
        ", ".join(connection.ops.quote_name(n) for n in names),
    )
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row + extra)
            count += 1
    return count


def _drop_indexes(cursor, table: str) -> list[str]:
    """Drop `table`'s secondary indexes and unique constraints (a bulk load then builds each once,
    sorted, instead of updating 14 b-trees row by row); return the SQL that puts them back."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = %s "
        "AND schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname AND c.conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    restore = []
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
        restore.append(definition)
    return restore


def generate() -> None:
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from contacts.models import Contact, ContactTag
    from messaging.models import CarrierEvent, Conversation, ConversationEvent, Message

    started = time.monotonic()
    rng = random.Random(1_000_000)
    numbers: set[str] = set()
    while len(numbers) < CUSTOMERS:
        numbers.add(f"1{rng.choice(AREA_CODES)}{rng.randint(2_000_000, 9_999_999)}")
    customers = sorted(numbers)
    rng.shuffle(customers)
    # A long tail: everyone has a message, a few customers have thousands.
    weights = [1 / (rank + 1) ** 0.6 for rank in range(CUSTOMERS)]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    who = list(range(CUSTOMERS)) + rng.choices(
        range(CUSTOMERS), cum_weights=cum, k=MESSAGES - CUSTOMERS
    )
    rng.shuffle(who)

    end = datetime.now(UTC) - timedelta(hours=1)
    start = end - timedelta(days=180)
    step = (end - start) / MESSAGES
    last: dict[int, tuple] = {}  # customer → (id, created, inbound DID, unread)
    events: list[tuple] = []
    first_event_id = MESSAGES - EVENTS + 1

    def messages():
        for i, c in enumerate(who, start=1):
            customer = customers[c]
            our = DIDS[c % len(DIDS)] if rng.random() < 0.9 else rng.choice(DIDS)
            created = start + step * i
            body = rng.choice(BODIES)
            if rng.random() < 0.5:
                direction, status, price, error = "inbound", "received", Decimal("0.0075"), ""
                changed = created
                _, _, _, unread = last.get(c, (0, 0, "", 0))
                last[c] = (i, created, our, unread + 1)
            else:
                direction, status = "outbound", rng.choice(OUT_STATUSES)
                price = Decimal("0.01") if status in ("sent", "delivered") else None
                error = "carrier rejected: unreachable destination" if status == "failed" else ""
                changed = created + timedelta(seconds=3)
                inbound_did = last.get(c, (0, 0, "", 0))[2]
                last[c] = (i, created, inbound_did, 0)
            sid = None if status == "sending" else str(uuid.UUID(int=rng.getrandbits(128)))
            if i >= first_event_id and sid:
                events.append((i, sid, status, changed, direction, our, customer, body))
            yield (
                i,
                sid,
                direction,
                our,
                customer,
                body,
                status,
                error,
                1,
                price,
                created,
                changed,
                changed if status != "sending" else None,
            )

    columns = [
        "id",
        "message_sid",
        "direction",
        "our_number",
        "their_number",
        "body",
        "status",
        "error",
        "segments",
        "price",
        "created_at",
        "updated_at",
        "status_changed_at",
    ]
    me, teammates = bench_users()
    contacts, tags = _contacts(customers, rng, start, end)
    models = (CarrierEvent, ConversationEvent, Conversation, Message, ContactTag, Contact)
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            # The rows are consistent by construction: skip the deferred FK checks per row.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            restore = _drop_indexes(cursor, Message._meta.db_table)
            restore += _drop_indexes(cursor, CarrierEvent._meta.db_table)
        _copy(Message, columns, messages())
        print(f"  {MESSAGES:,} messages copied in {time.monotonic() - started:.0f} s", flush=True)
        # `last` is known once the messages are written.
        conversations, lines = _conversations(last, customers, rng, me, teammates)
        _copy(Conversation, CONVERSATION_COLUMNS, iter(conversations))
        _copy(
            ConversationEvent,
            ["conversation_id", "kind", "actor_id", "assignee_id", "created_at"],
            iter(lines),
        )
        _copy(
            Contact,
            ["id", "number", "name", "company", "notes", "fields", "created_at", "updated_at"],
            iter(contacts),
        )
        _copy(ContactTag, ["contact_id", "name"], iter(tags))
        _copy(
            CarrierEvent,
            ["received_at", "body", "message_sid", "status", "outcome", "message_id"],
            (
                (
                    changed,
                    json.dumps(
                        {
                            "message_sid": sid,
                            "direction": direction,
                            "from": customer if direction == "inbound" else our,
                            "to": our if direction == "inbound" else customer,
                            "message": body,
                            "status": status,
                            "message_segments": 1,
                            "date_status_changed": changed.isoformat(),
                        }
                    ),
                    sid,
                    status,
                    f"new inbound message ({status})"
                    if direction == "inbound"
                    else f"sent → {status}",
                    mid,
                )
                for mid, sid, status, changed, direction, our, customer, body in events
            ),
        )
        with connection.cursor() as cursor:
            for sql in restore:
                cursor.execute(sql)
            print(f"  indexes rebuilt at {time.monotonic() - started:.0f} s", flush=True)
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
            # COMMENT takes no parameters; DATASET is ours and holds no quote.
            cursor.execute(f"COMMENT ON TABLE {_conversation_table()} IS '{DATASET}'")
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    print(
        f"  {len(conversations):,} conversations ({sum(r[7] == 'done' for r in conversations):,} "
        f"done), {len(lines):,} system lines, {len(contacts):,} contacts with {len(tags):,} tags; "
        f"generated and analyzed in {time.monotonic() - started:.0f} s",
        flush=True,
    )


CONVERSATION_COLUMNS = [
    "id",
    "customer_number",
    "last_message_id",
    "last_activity_at",
    "last_inbound_did",
    "unread_count",
    "updated_at",
    "state",
    "assignee_id",
    "state_changed_at",
]


def _conversations(last: dict, customers: list[str], rng, me: int, teammates: list[int]):
    """The conversations (rows in CONVERSATION_COLUMNS order) and the system lines of the LINED
    most recent ones (conversation, kind, actor, assignee, time; oldest first)."""
    newest_first = sorted(last, key=lambda c: last[c][1], reverse=True)
    recency = {c: rank for rank, c in enumerate(newest_first)}
    staff = [me, *teammates]
    rows, lines = [], []
    for n, (c, (mid, created, did, unread)) in enumerate(sorted(last.items()), 1):
        age = recency[c] / len(last)  # 0 the newest, 1 the oldest
        # Done: 20 % of the newest, all of the oldest, 60 % overall.
        done = rng.random() < 0.2 + 0.8 * age
        # A third each: the bench user's (Mine), a teammate's, nobody's (Unassigned).
        pick = rng.random()
        assignee = me if pick < 1 / 3 else rng.choice(teammates) if pick < 2 / 3 else None
        closed = created + timedelta(minutes=rng.uniform(1, 30)) if done else None
        unread = 0 if done else min(unread, 5) if rng.random() < 0.1 else 0
        state = "done" if done else "open"
        rows.append(
            (n, customers[c], mid, created, did, unread, closed or created, state, assignee, closed)
        )
        if recency[c] >= LINED:
            continue
        if rng.random() < 0.1:  # an inbound text reopened it earlier that day
            lines.append((n, "reopened", None, None, created - timedelta(hours=rng.uniform(2, 6))))
        if assignee is not None:
            kind, actor = ("taken", assignee) if rng.random() < 0.5 else ("assigned", None)
            when = created - timedelta(minutes=rng.uniform(5, 120))
            lines.append((n, kind, actor or rng.choice(staff), assignee, when))
        if done:
            lines.append((n, "done", assignee or rng.choice(staff), None, closed))
    lines.sort(key=lambda line: line[4])  # ids follow time, as written live
    return rows, lines


def _contacts(customers: list[str], rng, start: datetime, end: datetime):
    """A contact for every customer (5 % with only a company) and its tags (0–3 each)."""
    contacts, tags = [], []
    span = (end - start).total_seconds()
    for n, number in enumerate(customers, 1):
        company = rng.choice(COMPANIES) if rng.random() < 0.3 else ""
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if rng.random() < 0.05:
            name, company = "", company or rng.choice(COMPANIES)
        notes = "Prefers texts after 5 pm." if rng.random() < 0.1 else ""
        fields = {"city": rng.choice(["Austin", "Miami", "Queens"]), "source": "import"}
        created = start + timedelta(seconds=rng.uniform(0, span))
        contacts.append(
            (n, number, name, company, notes, json.dumps(fields if rng.random() < 0.2 else {}))
            + (created, created)
        )
        count = rng.choices((0, 1, 2, 3), weights=(40, 35, 20, 5))[0]
        tags += [(n, tag) for tag in rng.sample(TAGS, count)]
    return contacts, tags


def _conversation_table() -> str:
    from messaging.models import Conversation

    return Conversation._meta.db_table


def ensure_data() -> None:
    from django.db import connection

    from contacts.models import Contact
    from messaging.models import Conversation, Message

    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [_conversation_table()])
        (mark,) = cursor.fetchone()
    if (
        mark == DATASET
        and Message.objects.count() == MESSAGES
        and Conversation.objects.count() == CUSTOMERS
        and Contact.objects.count() == CUSTOMERS
    ):
        print(f"  {DATASET} already there: generation skipped")
        return
    generate()


def dashboard_recounts() -> list[tuple[str, float]]:
    """The dashboard's totals counted from scratch (its first run: every day of the data), then
    the periodic recount of recent days, each timed."""
    from dashboard.models import Rollup
    from dashboard.rollup import rollup_recent

    Rollup.objects.all().delete()
    timed = []
    for label in ("first recount (all days)", "periodic recount (last 7 days)"):
        started = time.monotonic()
        said = rollup_recent()
        timed.append((f"{label}: {said}", time.monotonic() - started))
        print(f"  dashboard {timed[-1][0]} in {timed[-1][1]:.1f} s", flush=True)
    return timed


def bench_users() -> tuple[int, list[int]]:
    """The ids of the bench user and of TEAMMATES other Inbox staff, created when missing."""
    from django.contrib.auth.models import Group, Permission, User
    from django.contrib.contenttypes.models import ContentType

    from portal.roles import INBOX_STAFF, ensure_roles

    ensure_roles(Group, Permission, ContentType)
    staff = Group.objects.get(name=INBOX_STAFF)
    ids = []
    for name in ["bench-inbox"] + [f"bench-teammate-{n}" for n in range(1, TEAMMATES + 1)]:
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(staff)
        ids.append(user.pk)
    return ids[0], ids[1:]


def staff_session() -> str:
    """A signed-in Inbox staff member's session key (what the login form would set)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from phone_numbers.models import CAP_SMS_IN, CAP_SMS_OUT, Did

    user = User.objects.get(pk=bench_users()[0])
    for n, number in enumerate(DIDS):
        Did.objects.get_or_create(
            phonenumber=number,
            defaults={
                "did_sid": f"bench-did-{n}",
                "name": f"Line {n + 1}",
                "capabilities": CAP_SMS_IN | CAP_SMS_OUT,
                "active_capabilities": CAP_SMS_IN | CAP_SMS_OUT,
            },
        )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend the login form records: the portal's own ModelBackend (a session naming one
    # the settings no longer list is signed out).
    session[BACKEND_SESSION_KEY] = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if isinstance(load_backend(path), ModelBackend)
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


# --- timing ----------------------------------------------------------------------------------


def older_link(page: bytes) -> str:
    # The link is relative ("?before=") or names the inbox ("/messaging/inbox/?before=").
    older = rb'href="(?:/messaging/inbox/)?\?before=([^"]+)"[^>]*>Older conversations'
    found = re.search(older, page)
    if not found:
        raise SystemExit("no 'Older conversations' link on the inbox page")
    return "/messaging/inbox/?before=" + html.unescape(found.group(1).decode())


HTMX = {"HX-Request": "true"}
PANE = {**HTMX, "HX-Target": "conversation-pane"}  # a conversation picked in the list
LISTS = [("All", "all"), ("Mine", "mine"), ("Unassigned", "unassigned"), ("Done", "done")]


def names_shown(page: bytes, view: str) -> tuple[int, int]:
    """Of a list's first-page conversations whose customer has a named contact, how many show
    that name in their row."""
    from django.contrib.auth.models import User

    from contacts.selectors import contact_names
    from messaging.selectors.conversations import inbox_conversations, inbox_page

    user = User.objects.get(username="bench-inbox")
    rows, _ = inbox_page(user, inbox_conversations(user, view=view), None)
    names = contact_names(c.customer_number for c in rows)
    items = {}
    for item in page.decode().split('<li id="conversation-')[1:]:
        number, _, rest = item.partition('"')
        items[number] = rest.split("</li>", 1)[0]
    shown = sum(1 for n, name in names.items() if html.escape(name) in items.get(n, ""))
    return shown, len(names)


def scenarios(conn: Conn, cookie: str) -> list[dict]:
    """What is timed. Requests of one `group` are timed in rounds, interleaved, so a busy
    machine's drift hits each alike; the others one after the other."""
    from django.db.models import Count

    from messaging.models import Conversation, Message

    def get(path: str, headers: dict | None = None) -> tuple[int, int, bytes]:
        return conn.request(
            request_bytes("GET", path, headers={"Cookie": cookie, **(headers or {})})
        )

    lists = []
    for label, view in LISTS:
        path = "/messaging/inbox/" if view == "all" else f"/messaging/inbox/?view={view}"
        status, _, page = get(path)
        if status != 200:
            raise SystemExit(f"the inbox ({view}) answered {status} to the bench user, not 200")
        shown, named = names_shown(page, view)
        print(f"  {label}: {shown} of the first page's {named} contact names shown", flush=True)
        lists.append(
            {
                "name": f"inbox {label}, first page",
                "path": path,
                "status": 200,
                "group": "lists",
                "names": (shown, named),
            }
        )
        if view == "all":
            older = older_link(page)
    for _ in range(3):  # page 5
        older = older_link(get(older)[2])
    open_ = Conversation.objects.filter(state=Conversation.State.OPEN)
    deep = open_.order_by("-last_activity_at", "-id")[5_000]
    cursor = f"{deep.last_activity_at.isoformat()}|{deep.pk}"
    deep_path = "/messaging/inbox/?view=all&before=" + quote(cursor)
    busiest = (
        Message.objects.values_list("their_number", flat=True)
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")[:1]
    )
    busy = busiest[0]
    busy_size = Message.objects.filter(their_number=busy).count()
    last_id = Message.objects.order_by("-id").values_list("id", flat=True)[0]
    full, pane = get(f"/messaging/inbox/{busy}/")[2], get(f"/messaging/inbox/{busy}/", PANE)[2]
    if b'id="conversation-list"' not in full or b'id="conversation-list"' in pane:
        raise SystemExit("the conversation's full page lacks the list, or its pane carries it")
    return [
        *lists,
        # Issue 17: the dashboard over 30 days costs no more than the inbox's first page.
        {
            "name": "dashboard, 30 days",
            "path": "/messaging/dashboard/?period=30",
            "status": 200,
            "group": "lists",
            "dashboard": True,
        },
        {"name": "inbox All, older page (5th)", "path": older, "status": 200},
        {"name": "inbox All, older page (open row 5,000)", "path": deep_path, "status": 200},
        {
            "name": f"conversation, full page ({busy_size:,} msgs)",
            "path": f"/messaging/inbox/{busy}/",
            "status": 200,
            "group": "conversation",
        },
        {
            "name": "conversation, pane only (htmx)",
            "path": f"/messaging/inbox/{busy}/",
            "status": 200,
            "group": "conversation",
            "headers": PANE,
        },
        {
            "name": "poll inbox Mine, nothing new",
            "path": "/messaging/inbox/?since={now}&view=mine",
            "status": 204,
            "group": "polls",
            "headers": {**HTMX, "HX-Target": "conversation-list"},
            "poll": True,
        },
        {
            "name": "poll conversation, nothing new",
            "path": f"/messaging/inbox/{busy}/?since={{now}}&last={last_id}&last_event=0",
            "status": 204,
            "group": "polls",
            "headers": {**HTMX, "HX-Target": "thread-live"},
            "poll": True,
        },
        {
            # Issue 16: every tab of an inbox reader asks this, on every page (a fetch, not htmx).
            "name": "poll notifications, nothing new",
            "path": "/messaging/inbox/notify/?since={now}",
            "status": 204,
            "group": "polls",
            "poll": True,
        },
        {
            # Sent as the polls are (cookie, HX-Request), to the bare view's server.
            "name": "bare signed-in view",
            "path": SIGNED_IN_PATH,
            "status": 204,
            "group": "polls",
            "headers": HTMX,
            "bare": True,
        },
    ]


def sample(conn: Conn, cookie: str, sc: dict, server: Server, db: Database) -> dict:
    """WARMUP untimed then REQUESTS timed requests of `sc`, one at a time: each one's wall time,
    status and size, and the CPU the server and the database spent on the timed ones."""
    headers = {"Cookie": cookie, **sc.get("headers", {})}
    path = sc["path"].replace("{now}", quote(datetime.now(UTC).isoformat()))
    raw = request_bytes("GET", path, headers=headers)
    latencies, statuses, sizes = [], [], []
    clock = time.perf_counter
    deadline = clock() + DEADLINE_S
    app_before, db_before = cpu_seconds(server.pids()), cpu_seconds(db.backend_pids())
    for n in range(WARMUP + REQUESTS):
        if clock() > deadline:
            break
        if n == WARMUP:
            app_before, db_before = cpu_seconds(server.pids()), cpu_seconds(db.backend_pids())
        t0 = clock()
        status, wire, _ = conn.request(raw)
        elapsed = clock() - t0
        if n >= WARMUP:
            latencies.append(elapsed)
            statuses.append(status)
            sizes.append(wire)
    return {
        "path": path,
        "latencies": latencies,
        "statuses": statuses,
        "sizes": sizes,
        "app_cpu": cpu_delta(app_before, cpu_seconds(server.pids())),
        "db_cpu": cpu_delta(db_before, cpu_seconds(db.backend_pids())),
    }


def summarize(sc: dict, samples: list[dict]) -> dict:
    latencies = [x for s in samples for x in s["latencies"]]
    count = max(len(latencies), 1)
    sc = dict(sc, path=samples[-1]["path"])
    sc.update(
        requests=len(latencies),
        app_ms=sum(s["app_cpu"] for s in samples) * 1000 / count,
        db_ms=sum(s["db_cpu"] for s in samples) * 1000 / count,
        ok=sum(1 for s in samples for status in s["statuses"] if status == sc["status"]),
        p50=percentile(latencies, 50) * 1000,
        p95=percentile(latencies, 95) * 1000,
        p99=percentile(latencies, 99) * 1000,
        bytes=max((n for s in samples for n in s["sizes"]), default=0),
    )
    return sc


def time_interleaved(
    polls: list[dict], cookie: str, portal: tuple[Conn, Server], bare: tuple[Conn, Server], db
) -> list[dict]:
    """Requests to compare (the "nothing new" polls and the bare signed-in view; the dashboard
    and the inbox's lists; the conversation's full page and its pane), timed alike in POLL_ROUNDS
    rounds, the order rotating each round."""
    samples: dict[str, list[dict]] = {sc["name"]: [] for sc in polls}
    for rnd in range(POLL_ROUNDS):
        first = rnd % len(polls)
        for sc in polls[first:] + polls[:first]:
            conn, server = bare if sc.get("bare") else portal
            samples[sc["name"]].append(sample(conn, cookie, sc, server, db))
    return [summarize(sc, samples[sc["name"]]) for sc in polls]


# --- where the time goes ---------------------------------------------------------------------


def explain(results: list[dict]) -> tuple[list[list], str]:
    """Run each view once in-process, EXPLAIN ANALYZE every SELECT it issued."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench-inbox"))
    rows, report = [], []
    for sc in results:
        headers = sc.get("headers", {})
        path = sc["path"]
        if sc.get("poll"):
            path = re.sub(r"since=[^&]+", "since=" + quote(datetime.now(UTC).isoformat()), path)
        urls = (
            override_settings(ROOT_URLCONF="bench.baseline_urls")
            if sc.get("bare")
            else nullcontext()
        )
        with urls, CaptureQueriesContext(connection) as captured:
            client.get(path, headers=headers, secure=True)
        report.append(f"==== {sc['name']}: GET {path}")
        slowest, total, listing = (0.0, "", []), 0.0, None
        for query in captured.captured_queries:
            sql = query["sql"]
            report.append(f"-- {sql}")
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = [line for (line,) in cursor.fetchall()]
            report += plan
            ms = float(re.search(r"Execution Time: ([\d.]+)", plan[-1]).group(1))
            total += ms
            if listing is None and _lists_conversations(sql):
                listing = plan
            if ms >= slowest[0]:
                slowest = (ms, sql, plan)
        rows.append(
            [
                sc["name"],
                len(captured.captured_queries),
                total,
                slowest[0],
                _short(slowest[1]),
                _node(slowest[2]),
                _node(listing) if listing else "",
            ]
        )
    return rows, "\n".join(report) + "\n"


def _lists_conversations(sql: str) -> bool:
    """The statement that reads a page of a list, or a poll's probe, on the conversation table
    (its plan tells whether the Mine / Unassigned / Done filter seeks in its index)."""
    table = '"messaging_conversation"'
    return f"FROM {table}" in sql and (
        f'ORDER BY {table}."last_activity_at" DESC' in sql or '"updated_at" > ' in sql
    )


def _node(plan: list[str]) -> str:
    """The plan's first scan, and how many rows it threw away."""
    scan = next((line for line in plan if "Scan" in line), plan[0] if plan else "")
    text = re.sub(r"\s*\(cost=.*", "", scan).strip().lstrip("-> ")
    removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", "\n".join(plan)))
    return f"{text}; {removed:,} rows filtered out" if removed else text


def _short(sql: str) -> str:
    sql = re.sub(r'"[a-z_]+"\."([a-z_]+)"', r"\1", sql).replace('"', "")
    sql = re.sub(r"SELECT .*? FROM", "SELECT … FROM", sql, count=1)
    sql = re.sub(r"LEFT OUTER JOIN (\w+) ON \(.*?\)", r"JOIN \1", sql)
    return sql[:120]


def against(results: list[dict], first_page: dict) -> str:
    """Each list and page beside the same run's All first page (the conversation's pane beside
    its full page too), in p95 and in CPU per request."""
    full = next(r for r in results if r["name"].startswith("conversation, full page"))
    rows = []
    for r in results:
        if r.get("poll") or r.get("bare") or r is first_page:
            continue
        base = full if r["name"].startswith("conversation, pane") else first_page
        cpu, base_cpu = r["app_ms"] + r["db_ms"], base["app_ms"] + base["db_ms"]
        rows.append(
            [r["name"], base["name"], f"{r['p95'] / base['p95']:.2f}", f"{cpu / base_cpu:.2f}"]
        )
    print()
    return print_table(
        ["request", "against", "p95 ratio", "CPU ratio"],
        rows,
        title="Pages against the same run's All first page (the pane against the full page)",
    )


def main() -> int:
    print_machine()
    if not pg_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432: the inbox benchmark needs it")
        return 0
    db = Database.postgres("bench_inbox", fresh=False)
    env = portal_env(db)
    print(f"PostgreSQL: {db.name} (kept between runs)")
    migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    ensure_data()
    recounts = dashboard_recounts()
    cookie = "sessionid=" + staff_session()

    with (
        Server(env, "inbox-postgresql") as server,
        Server(baseline_env(env), "inbox-baseline") as bare_server,
    ):
        print(
            f"{server.shape}, and the same for the bare view; one client, keep-alive, "
            f"{WARMUP} warm-up + {REQUESTS} requests per page, {POLL_ROUNDS} rounds of that "
            "for the polls and the bare view",
            flush=True,
        )
        conn, bare_conn = Conn(server.port), Conn(bare_server.port)
        # Groups in the order they first appear; the dashboard is judged against the inbox's
        # first page, Mine / Unassigned / Done against All, the pane against the full page.
        groups: dict[str | None, list[dict]] = {}
        for sc in scenarios(conn, cookie):
            if ONLY and sc.get("group") not in ONLY:
                continue
            groups.setdefault(sc.get("group"), []).append(sc)
        results = []
        for group, members in groups.items():
            if group is None:
                results += [summarize(sc, [sample(conn, cookie, sc, server, db)]) for sc in members]
            else:
                pair = (conn, server), (bare_conn, bare_server)
                results += time_interleaved(members, cookie, *pair, db)
        conn.close()
        bare_conn.close()

    rows, all_met = [], True
    first_page = next((r for r in results if r["path"] == "/messaging/inbox/"), None)
    for r in results:
        if r.get("bare"):
            goal, met = "(yardstick)", True
        elif r.get("dashboard"):
            goal = f"p95 ≤ inbox first page ({first_page['p95']:.0f} ms)"
            met = r["p95"] <= first_page["p95"]
        elif r.get("poll"):
            goal = f"p95 ≤ {POLL_GOAL_MS:.0f} ms, ≤ 1 KB"
            met = r["p95"] <= POLL_GOAL_MS and r["bytes"] <= POLL_GOAL_BYTES
        else:
            goal = f"p95 ≤ {PAGE_GOAL_MS:.0f} ms"
            met = r["p95"] <= PAGE_GOAL_MS
            if "names" in r:  # issue 16: with the contacts' names shown
                shown, named = r["names"]
                goal += f", names {shown}/{named}"
                met = met and shown == named > 0
        met = met and r["ok"] == r["requests"]
        all_met = all_met and met
        rows.append(
            [
                r["name"],
                f"{r['ok']}/{r['requests']} × {r['status']}",
                r["p50"],
                r["p95"],
                r["p99"],
                r["app_ms"],
                r["db_ms"],
                r["bytes"],
                goal,
                "met" if met else "MISSED",
            ]
        )
    print()
    text = print_table(
        [
            "request",
            "answers",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "app CPU ms",
            "db CPU ms",
            "bytes",
            "goal",
            "",
        ],
        rows,
        title=(
            f"Inbox on PostgreSQL, {MESSAGES:,} messages / {CUSTOMERS:,} conversations "
            "(client wall time; CPU per request: gunicorn, PostgreSQL backends; "
            "bytes = status line + headers + body)"
        ),
    )
    bare = next(r for r in results if r.get("bare"))
    ratio_rows = []
    for r in results:
        if not r.get("poll"):
            continue
        cpu, bare_cpu = r["app_ms"] + r["db_ms"], bare["app_ms"] + bare["db_ms"]
        cpu_ratio, p95_ratio = cpu / bare_cpu, r["p95"] / bare["p95"]
        met = cpu_ratio <= POLL_PER_BARE_GOAL and p95_ratio <= POLL_PER_BARE_GOAL
        all_met = all_met and met
        ratio_rows.append(
            [
                r["name"],
                cpu,
                bare_cpu,
                f"{cpu_ratio:.2f}",
                r["p95"],
                bare["p95"],
                f"{p95_ratio:.2f}",
                "met" if met else "MISSED",
            ]
        )
    print()
    text += "\n\n" + print_table(
        [
            "request",
            "CPU ms",
            "bare CPU ms",
            "CPU poll/bare",
            "p95 ms",
            "bare p95",
            "p95 poll/bare",
            f"goal both ≤ {POLL_PER_BARE_GOAL:.0f}×",
        ],
        ratio_rows,
        title=(
            "Polls against the bare signed-in view (same run, interleaved; "
            "CPU = gunicorn + PostgreSQL backends per request)"
        ),
    )
    if first_page:
        text += "\n\n" + against(results, first_page)
    text += "\n\n" + "\n".join(f"Dashboard {label}: {seconds:.1f} s" for label, seconds in recounts)
    print("\n".join(f"Dashboard {label}: {seconds:.1f} s" for label, seconds in recounts))
    explain_rows, report = explain(results)
    print()
    text += "\n\n" + print_table(
        [
            "request",
            "queries",
            "SQL ms",
            "slowest ms",
            "slowest query",
            "its plan",
            "the list's (or probe's) plan",
        ],
        explain_rows,
        title="Queries per request; the slowest by EXPLAIN ANALYZE (bench/out/inbox_explain.txt)",
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "inbox_explain.txt").write_text(report)
    (OUT / "bench_inbox.txt").write_text(text + "\n")
    return 1 if strict() and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
