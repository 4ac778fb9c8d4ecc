"""The carrier's detail records read into the portal (issue 17): records/s of `detail_records_sync`
over real HTTP, on PostgreSQL and on SQLite, first sync and a second one that changes nothing.

Goal (issue 17): ≥ 1,000 records/s on PostgreSQL, 100,000 records. Per database: migrate, seed in
one process with bulk inserts (the sandbox's `SandboxMessage` rows, whose detail records the
sandbox serves, and the portal's own messages), start gunicorn in sandbox mode (1 worker, 2
threads: the sync reads one page at a time), then run `detail_records_sync()` twice, each in a
fresh process, timed from its call to its return (Django's start-up left out).

The mix (BENCH_DR_RECORDS records, default 100,000, inserted over two hours ending an hour ago, in
a shuffled order):

- 90 % outbound records of messages the portal sent, matched by our id in `user_data`; half of
  those messages already have their final status, price and network from callbacks (the record
  only adds its SID and send delay), half still say `sent` (their final callback was lost: the
  record gives it, a CarrierEvent is kept and the recovery counted); every 25th of those failed,
  with the landline code;
- 5 % inbound records the portal never heard of: recovered as new messages (conversation,
  opt-out, recovery count), through the time-window lookup first since they carry no id;
- 5 % outbound records not ours (sent by something else on the account, no `user_data`): the
  time-window lookup finds nothing, every sync.

Every record ended in the minutes before the first sync, so the second sync re-reads all of them
(the ended-since read) and must change nothing. Figures: wall time and records/s, CPU seconds of
the sync process, of its database backend (PostgreSQL) and of gunicorn serving the records.

    .venv/bin/python bench/bench_detail_records.py   # BENCH_DR_RECORDS, BENCH_DATABASES
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    OUT,
    REPO,
    Database,
    Server,
    cpu_delta,
    cpu_seconds,
    in_django,
    migrate,
    pg_available,
    portal_env,
    print_machine,
    print_table,
    strict,
)

RECORDS = int(os.environ.get("BENCH_DR_RECORDS", "100000"))
GOALS = {"postgresql": 1000.0, "sqlite": None}  # records/s of the first sync
TIMEOUT_S = 3600
CUSTOMERS = 10_000
TEXTS = [
    "Your order has shipped.",
    "Your appointment is confirmed for tomorrow at 9:30.",
    "Your code is 482913. It expires in 10 minutes.",
    "Thanks for your order! Reply STOP to opt out.",
]
INBOUND_TEXTS = ["Is my order ready?", "Yes, 3pm works", "Can you call me back?", "Thanks!"]


def mix(n: int) -> dict[str, int]:
    matched = n * 90 // 100
    inbound = n * 5 // 100
    return {"matched": matched, "inbound": inbound, "foreign": n - matched - inbound}


# --- in the seeding process ----------------------------------------------------------------------


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def _seed_here(n: int) -> None:
    _django_setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from messaging.models import Conversation, Direction, Message, Status
    from sandbox.detail_records import LANDLINE
    from sandbox.models import SandboxDid, SandboxMessage
    from sandbox.seed import seed

    rng = random.Random(17)
    partner = seed(sms_callback_url=None)
    dids = list(
        SandboxDid.objects.filter(partner=partner).values_list("phonenumber", flat=True)[:5]
    )
    customers = [f"1555{k:07d}" for k in rng.sample(range(10**7), CUSTOMERS)]
    counts = mix(n)
    now = timezone.now()
    price = SandboxMessage.PRICE_PER_SEGMENT
    started = time.monotonic()
    with transaction.atomic():
        portal = []
        for i in range(counts["matched"]):
            final = i % 2 == 0  # its callbacks came
            portal.append(
                Message(
                    message_sid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    direction=Direction.OUTBOUND,
                    our_number=dids[i % len(dids)],
                    their_number=customers[i % CUSTOMERS],
                    body=TEXTS[i % len(TEXTS)],
                    status=Status.DELIVERED if final else Status.SENT,
                    segments=1,
                    price=price if final else None,
                    mcc=310 if final else None,
                    mnc=999 if final else None,
                )
            )
        portal = Message.objects.bulk_create(portal, batch_size=5000)
        Conversation.objects.bulk_create(
            [Conversation(customer_number=c, last_activity_at=now) for c in customers],
            batch_size=5000,
        )
        kinds = ["matched"] * counts["matched"]
        kinds += ["inbound"] * counts["inbound"] + ["foreign"] * counts["foreign"]
        rng.shuffle(kinds)
        first = now - timedelta(hours=3)
        step = timedelta(hours=2) / max(n, 1)
        mine = iter(portal)
        # Every 25th message whose final callback was lost failed.
        failed = {m.pk for m in portal[1::2][::25]}
        rows = []
        for i, kind in enumerate(kinds):
            created = first + step * i
            row = SandboxMessage(
                partner=partner,
                status=SandboxMessage.Status.DELIVERED,
                message_segments=1,
                price=price,
                mcc=310,
                mnc=999,
                date_created=created,
                date_changed=now,
                date_status_changed=now,
                date_sent=created + timedelta(seconds=1),
                date_stop=now,
            )
            if kind == "matched":
                message = next(mine)
                row.message_sid = message.message_sid
                row.direction = SandboxMessage.Direction.OUTBOUND
                row.from_number, row.to_number = message.our_number, message.their_number
                row.message = message.body
                row.user_data = f"portal-message-{message.pk}"
                if message.pk in failed:
                    row.status = SandboxMessage.Status.FAILED
                    row.vendor_error_code = LANDLINE
                    row.price = Decimal(0)
            elif kind == "inbound":
                row.direction = SandboxMessage.Direction.INBOUND
                row.from_number, row.to_number = rng.choice(customers), rng.choice(dids)
                row.message = rng.choice(INBOUND_TEXTS)
                row.status = SandboxMessage.Status.RECEIVED
            else:
                row.direction = SandboxMessage.Direction.OUTBOUND
                row.from_number, row.to_number = rng.choice(dids), rng.choice(customers)
                row.message = "Sent from another app on the account"
            rows.append(row)
        SandboxMessage.objects.bulk_create(rows, batch_size=5000)
    print(f"  seeded {n:,} records in {time.monotonic() - started:.1f} s", flush=True)


# --- in the sync process -------------------------------------------------------------------------


def _sync_here() -> None:
    _django_setup()
    from django.db import connection

    from messaging.services.detail_records import detail_records_sync

    backend = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = [cursor.fetchone()[0]]
    db_before = cpu_seconds(backend)
    cpu_before = time.process_time()
    started = time.perf_counter()
    result = detail_records_sync()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    db_cpu = cpu_delta(db_before, cpu_seconds(backend))
    fields = ("read", "matched", "updated", "recovered_inbound", "recovered_outbound")
    out = {name: getattr(result, name) for name in fields}
    out.update(
        unmatched=result.unmatched,
        unusable=result.unusable,
        waiting=result.waiting,
        errors=result.errors,
        elapsed=elapsed,
        cpu=cpu,
        db_cpu=db_cpu,
    )
    print(json.dumps(out))


# --- the run -------------------------------------------------------------------------------------


def expected(n: int, which: str) -> dict[str, int]:
    counts = mix(n)
    if which == "first":
        return {
            "read": n,
            "matched": counts["matched"],
            "updated": counts["matched"],
            "recovered_inbound": counts["inbound"],
            "recovered_outbound": counts["matched"] // 2,
            "unmatched": counts["foreign"],
        }
    return {
        "read": n,
        "matched": counts["matched"] + counts["inbound"],
        "updated": 0,
        "recovered_inbound": 0,
        "recovered_outbound": 0,
        "unmatched": counts["foreign"],
    }


def bench_database(db: Database, n: int) -> list[dict]:
    print(f"\n{db.label}: {db.name}", flush=True)
    # The sync calls the sandbox on loopback over plain HTTP, as it would the carrier's API over
    # HTTPS: no redirect to https for it.
    env = portal_env(db, CARRIERX_TOKEN="bench-sandbox-token", SECURE_SSL_REDIRECT="off")
    migrate(env)
    print(in_django(__file__, env, "--seed", str(n), timeout=TIMEOUT_S), end="", flush=True)
    runs = []
    with Server(env, f"detail-records-{db.kind}", workers=1, threads=2) as server:
        sync_env = {
            **env,
            "CARRIERX_API_URL": f"http://127.0.0.1:{server.port}/sandbox/core/v2",
            "LOG_LEVEL": "ERROR",  # an unusable record would log a warning each; none expected
        }
        for which in ("first", "second"):
            load = os.getloadavg()[0]
            server_before = cpu_seconds(server.pids())
            out = in_django(__file__, sync_env, "--sync", timeout=TIMEOUT_S)
            server_cpu = cpu_delta(server_before, cpu_seconds(server.pids()))
            run = json.loads(out.strip().splitlines()[-1])
            run.update(db=db.label, kind=db.kind, sync=which, load=load, server_cpu=server_cpu)
            want = expected(n, which)
            got = {name: run[name] for name in want}
            run["checks"] = [] if got == want else [f"expected {want}, got {got}"]
            if run["errors"] or run["unusable"] or run["waiting"]:
                run["checks"].append(
                    f"errors {run['errors']}, unusable {run['unusable']}, waiting {run['waiting']}"
                )
            run["rate"] = run["read"] / run["elapsed"] if run["elapsed"] else 0.0
            print(
                f"  {which} sync: {run['read']:,} records in {run['elapsed']:.1f} s = "
                f"{run['rate']:,.0f}/s; CPU sync {run['cpu']:.1f} s, db {run['db_cpu']:.1f} s, "
                f"gunicorn {server_cpu:.1f} s; load {load:.1f}; "
                f"{'; '.join(run['checks']) or 'checks ok'}",
                flush=True,
            )
            runs.append(run)
    if server.log().count("Traceback"):
        runs[-1]["checks"].append(f"tracebacks in {server.log_path.relative_to(REPO)}")
    return runs


def main() -> int:
    if "--seed" in sys.argv:
        _seed_here(int(sys.argv[sys.argv.index("--seed") + 1]))
        return 0
    if "--sync" in sys.argv:
        _sync_here()
        return 0
    print_machine()
    counts = mix(RECORDS)
    print(
        f"{RECORDS:,} detail records: {counts['matched']:,} of messages the portal sent (half "
        f"still short of their final status), {counts['inbound']:,} inbound to recover, "
        f"{counts['foreign']:,} not ours; served by gunicorn 1 worker × 2 threads (sandbox), "
        "pages of 1,000"
    )
    wanted = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")
    databases = []
    if "postgresql" in wanted and pg_available():
        databases.append(lambda: Database.postgres("bench_detail_records"))
    elif "postgresql" in wanted:
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it")
    if "sqlite" in wanted:
        databases.append(Database.sqlite)

    runs: list[dict] = []
    for make in databases:
        db = make()
        try:
            runs += bench_database(db, RECORDS)
        finally:
            db.drop()

    all_met = True
    rows = []
    for run in runs:
        goal = GOALS[run["kind"]]
        met = not run["checks"] and (goal is None or run["rate"] >= goal)
        all_met = all_met and met
        per_record = 1000 / max(run["read"], 1)
        rows.append(
            [
                run["db"],
                run["sync"],
                run["read"],
                run["matched"],
                run["updated"],
                run["recovered_inbound"],
                run["recovered_outbound"],
                run["unmatched"],
                run["elapsed"],
                round(run["rate"]),
                run["cpu"] * per_record,
                run["db_cpu"] * per_record,
                run["server_cpu"] * per_record,
                # What the CPU alone allows, the three taking turns on one core (nothing overlaps).
                round(run["read"] / (run["cpu"] + run["db_cpu"] + run["server_cpu"])),
                run["load"],
                f"≥ {goal:,.0f}/s" if goal else "-",
                ("met" if met else "MISSED") if goal else ("ok" if met else "FAILED"),
                "; ".join(run["checks"]) or "ok",
            ]
        )
    print()
    text = print_table(
        [
            "database",
            "sync",
            "read",
            "matched",
            "updated",
            "rec. in",
            "rec. out",
            "not ours",
            "s",
            "records/s",
            "sync CPU ms/rec",
            "db CPU ms/rec",
            "gunicorn CPU ms/rec",
            "CPU-bound/s",
            "load",
            "goal",
            "",
            "checks (counts as the mix says)",
        ],
        rows,
        title=(
            f"Detail record sync, {RECORDS:,} records over HTTP from the sandbox (CPU-bound/s: "
            "records / CPU seconds of sync + database + gunicorn, as if they took turns on one "
            "idle core)"
        ),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_detail_records.txt").write_text(text + "\n")
    return 1 if strict() and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
