"""Webhook ingestion: callbacks/s, p50/p99 and non-2xx at 32 concurrent, against gunicorn on
PostgreSQL and on SQLite, with a loss check, beside a bare Django view doing one INSERT.

Goal (issue 6): ≥ 1,000 callbacks/s on PostgreSQL with p99 ≤ 50 ms and 0 non-2xx; SQLite ≥ 300/s
with no "database is locked". Every run: a warm-up, then N distinct callbacks — new inbound
messages (current and legacy field names), `sent` then `delivered`/`failed` for outbound messages
the portal already holds as `queued`, a few out of order, and ~10 % exact duplicates. Baseline and
portal alternate (B, P, B, P) on the same database so machine noise hits both.

    .venv/bin/python bench/bench_webhook.py          # BENCH_WEBHOOK_REQUESTS, BENCH_ROUNDS, ...

`--mms` compares new inbound SMS callbacks with new inbound MMS callbacks carrying 3 media_urls
(issue 14: the MMS rate within 10 % of the SMS rate), portal only, no task worker running, so
only the webhook's own cost is measured: the downloads are queued, never run (one download task
serves a burst, so the first MMS callbacks queue it and the rest find it waiting).

    .venv/bin/python bench/bench_webhook.py --mms    # BENCH_WEBHOOK_MMS_REQUESTS, BENCH_ROUNDS
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline_urls import BASELINE_TABLE_SQL  # noqa: E402
from bench.common import (  # noqa: E402
    OUT,
    REPO,
    WEBHOOK_SECRET,
    Database,
    LoadResult,
    Server,
    baseline_env,
    cpu_delta,
    cpu_seconds,
    in_django,
    migrate,
    percentile,
    pg_available,
    portal_env,
    print_machine,
    print_table,
    request_bytes,
    run_load,
    strict,
)

# Two alternating rounds of 2,500: 5,000 callbacks per server and database, inside the time
# `make bench` allows even when the portal manages only ~70/s on a busy machine.
REQUESTS = int(os.environ.get("BENCH_WEBHOOK_REQUESTS", "2500"))
WARMUP = int(os.environ.get("BENCH_WEBHOOK_WARMUP", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONCURRENCY = 32
CORES = os.cpu_count() or 1
DEADLINE_S = 120
PATH = f"/webhooks/carrierx/{WEBHOOK_SECRET}/"
NOTES: list[str] = []  # extra tables for bench/out/bench_webhook.txt
GOALS = {"postgresql": (1000.0, 50.0), "sqlite": (300.0, None)}  # callbacks/s, p99 ms
# Issue 18, against the bare view in the same run: portal/bare rate, portal p99 / bare p99.
MIN_RATE_PER_BARE, MAX_P99_PER_BARE = 0.5, 3.0

DIDS = [f"1516206557{n}" for n in range(5)]
BODIES = [
    "Is my order ready for pickup?",
    "Yes, 3pm works for me. Thanks!",
    "STOP",
    "Can you resend the confirmation code?",
    "Running 10 minutes late, sorry",
    "What are your opening hours on Sunday?",
    "Thanks, received 👍",
    "Please call me back when you get a chance.",
    "Your appointment is confirmed for tomorrow at 9:30.",
    "Your code is 482913. It expires in 10 minutes.",
]


@dataclass
class Workload:
    bodies: list[bytes] = field(default_factory=list)
    seeds: list[dict] = field(default_factory=list)  # outbound rows the portal already holds
    inbound_sids: set[str] = field(default_factory=set)
    outbound_sids: list[str] = field(default_factory=list)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def make_workload(n: int, rng: random.Random, customers: list[str]) -> Workload:
    """About 50 % new inbound, 40 % outbound status changes (20 % of SIDs, two each), 10 %
    duplicates, in a shuffled order where each `delivered` follows its `sent` (3 % arrive
    before it, as the carrier allows)."""
    work = Workload()
    keyed: list[tuple[float, dict]] = []
    now = datetime.now(UTC)
    n_inbound = n // 2
    n_outbound = n // 5
    n_dup = n - n_inbound - 2 * n_outbound

    for _ in range(n_inbound):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        work.inbound_sids.add(sid)
        customer, did = rng.choice(customers), rng.choice(DIDS)
        stamp = _stamp(now - timedelta(seconds=rng.uniform(0, 5)))
        body = {
            "date_created": stamp,
            "date_status_changed": stamp,
            "direction": "inbound",
            "mcc": None,
            "message": rng.choice(BODIES),
            "message_segments": 1,
            "message_sid": sid,
            "mnc": None,
            "partner_sid": "QLJ79xlC2vP-UEx3hS0R4rldas8.G1UB",
            "price": "0.0075",
            "status": "received",
        }
        if rng.random() < 0.25:  # older accounts and the 2021 tutorial
            body.update(from_did=customer, to_did=did)
        else:
            body.update(**{"from": customer, "to": did}, type="sms", group_recipients=[])
        keyed.append((rng.random(), body))

    for _ in range(n_outbound):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        customer, did, text = rng.choice(customers), rng.choice(DIDS), rng.choice(BODIES)
        work.outbound_sids.append(sid)
        work.seeds.append({"sid": sid, "from": did, "to": customer, "body": text})
        created = now - timedelta(seconds=rng.uniform(5, 30))
        common = {
            "date_created": _stamp(created),
            "direction": "outbound",
            "from": did,
            "group_recipients": [],
            "media_urls": [],
            "message": text,
            "message_segments": 1,
            "message_sid": sid,
            "partner_sid": "e00430c3-a7d0-4666-ab5c-f7202448382f",
            "to": customer,
            "type": "sms",
            "user_data": "bench",
        }
        sent = {
            **common,
            "status": "sent",
            "date_status_changed": _stamp(created + timedelta(seconds=1)),
            "mcc": None,
            "mnc": None,
            "price": None,
        }
        final = {
            **common,
            "status": "failed" if rng.random() < 0.05 else "delivered",
            "date_status_changed": _stamp(created + timedelta(seconds=3)),
            "mcc": 310,
            "mnc": 999,
            "price": "0.01",
        }
        first = rng.uniform(0, 0.9)
        second = first + rng.uniform(0.01, 0.1)
        if rng.random() < 0.03:
            first, second = second, first
        keyed += [(first, sent), (second, final)]

    originals = list(keyed)
    for _ in range(n_dup):
        key, body = rng.choice(originals)
        keyed.append((key + rng.uniform(0.001, 0.05), body))

    keyed.sort(key=lambda kb: kb[0])
    work.bodies = [json.dumps(body).encode() for _, body in keyed]
    return work


def inbound_bodies(n: int, rng: random.Random, customers: list[str], *, files: int) -> list[dict]:
    """`n` new inbound messages as the carrier posts them: SMS, or MMS with `files` media URLs
    on the carrier's storage (never fetched here: no worker runs)."""
    now = datetime.now(UTC)
    bodies = []
    for _ in range(n):
        stamp = _stamp(now - timedelta(seconds=rng.uniform(0, 5)))
        body = {
            "date_created": stamp,
            "date_status_changed": stamp,
            "direction": "inbound",
            "from": rng.choice(customers),
            "group_recipients": [],
            "mcc": None,
            "media_urls": [
                f"https://storage.carrierx.com/f/{uuid.UUID(int=rng.getrandbits(128), version=4)}"
                for _ in range(files)
            ],
            "message": rng.choice(BODIES),
            "message_segments": 1,
            "message_sid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "mnc": None,
            "partner_sid": "QLJ79xlC2vP-UEx3hS0R4rldas8.G1UB",
            "price": "0.02" if files else "0.0075",
            "status": "received",
            "to": rng.choice(DIDS),
            "type": "mms" if files else "sms",
        }
        bodies.append(body)
    return bodies


def callback_requests(work: Workload) -> list[bytes]:
    headers = {"Content-Type": "application/json", "User-Agent": "CarrierX-bench"}
    return [request_bytes("POST", PATH, body, headers) for body in work.bodies]


def seed(env: dict[str, str], rows: list[dict]) -> None:
    """Outbound messages as the send path leaves them (`queued`, SID known), with their
    conversations, through the portal's own models."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
    try:
        in_django(__file__, env, "--seed", f.name)
    finally:
        os.unlink(f.name)


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def _seed_here(path: str) -> None:
    _django_setup()
    from django.db import transaction

    from messaging.models import Direction, Message, Status
    from messaging.services.carrier_events import conversation_add_message

    rows = json.loads(Path(path).read_text())
    with transaction.atomic():
        created = Message.objects.bulk_create(
            Message(
                message_sid=r["sid"],
                direction=Direction.OUTBOUND,
                our_number=r["from"],
                their_number=r["to"],
                body=r["body"],
                status=Status.QUEUED,
            )
            for r in rows
        )
        for message in created:
            conversation_add_message(message)


def _statements_here(samples: int = 40) -> None:
    """What one callback of each kind costs: statements, commits, and CPU in this process
    (Django test client, no HTTP server), averaged over `samples` fresh callbacks per kind."""
    _django_setup()
    from django.db import connection
    from django.test import Client

    from messaging.models import Direction, Message, Status
    from messaging.services.carrier_events import conversation_add_message

    rng = random.Random(7)
    work = make_workload(samples * 5, rng, [f"155599900{n:02d}" for n in range(40)])
    parsed = [json.loads(b) for b in work.bodies]
    inbound = [b for b in parsed if b["direction"] == "inbound"]
    inbound = list({b["message_sid"]: b for b in inbound}.values())[:samples]
    seeds = work.seeds[:samples]
    for row in seeds:
        message = Message.objects.create(
            message_sid=row["sid"],
            direction=Direction.OUTBOUND,
            our_number=row["from"],
            their_number=row["to"],
            body=row["body"],
            status=Status.QUEUED,
        )
        conversation_add_message(message)
    by_sid = {(b["message_sid"], b["status"] == "sent"): b for b in parsed}
    sent = [by_sid[(row["sid"], True)] for row in seeds]
    final = [by_sid[(row["sid"], False)] for row in seeds]
    client = Client(HTTP_HOST="127.0.0.1")
    # One callback first, outside the figures: the first reads the auto-reply copy and warms what
    # every later one finds ready.
    warm_up = {**inbound[0], "message_sid": "warm-up", "message": "warm-up"}
    client.post(PATH, json.dumps(warm_up), content_type="application/json", secure=True)
    log: list[tuple[str, bool]] = []

    def record(execute, sql, params, many, context):
        log.append((sql.split(None, 1)[0].upper(), connection.in_atomic_block))
        return execute(sql, params, many, context)

    mms = inbound_bodies(samples, rng, [f"155599901{n:02d}" for n in range(40)], files=3)
    rows = []
    for label, bodies in (
        ("new inbound", inbound),
        ("new inbound MMS, 3 files", mms),
        ("duplicate inbound", inbound),
        ("outbound sent", sent),
        ("outbound delivered", final),
    ):
        started = time.process_time()
        for n, body in enumerate(bodies):
            log.clear()
            with connection.execute_wrapper(record):
                answer = client.post(
                    PATH, json.dumps(body), content_type="application/json", secure=True
                )
            if answer.status_code != 200:
                raise SystemExit(f"{label}: the webhook answered {answer.status_code}")
            if n == 0:
                # A read outside a transaction commits nothing.
                autocommits = sum(1 for k, atomic in log if not atomic and k != "SELECT")
                transactions = 1 if any(atomic for _, atomic in log) else 0
                kinds = " ".join(f"{k}×{c}" for k, c in _counts(k for k, _ in log))
                row = [label, len(log), autocommits + transactions, kinds]
        row.insert(3, (time.process_time() - started) * 1000 / len(bodies))
        rows.append(row)
    print_table(
        ["callback", "statements", "commits", "CPU ms", "statements by kind"],
        rows,
        title=(
            "Work per callback in the portal's code (in-process test client, "
            f"mean of {samples}; CPU includes the client's own overhead)"
        ),
    )


def _counts(items) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return list(counts.items())


@dataclass
class Run:
    db: str
    server: str
    round: int
    result: LoadResult
    stored: int
    checks: list[str]
    lost: int  # answered 2xx but not stored
    locked: int
    load: float  # 1-minute load average when the run started
    app_ms: float  # gunicorn CPU per request (includes SQLite's work, which runs in-process)
    db_ms: float  # PostgreSQL backends' CPU per request
    client_ms: float  # the load generator's CPU per request


def one_run(db: Database, env: dict, server_kind: str, rnd: int, warm: Workload, work: Workload):
    portal = server_kind == "portal"
    table = "messaging_callbackevent" if portal else "bench_baseline"
    before = db.scalar(f"SELECT count(*) FROM {table}")
    messages_before = db.scalar("SELECT count(*) FROM messaging_message")
    if not portal:
        env = baseline_env(env)
    name = f"webhook-{db.kind}-{server_kind}-{rnd}"
    load = os.getloadavg()[0]
    with Server(env, name) as server:
        warmup = run_load(server.port, callback_requests(warm), concurrency=CONCURRENCY)
        requests = callback_requests(work)
        app_before, db_before = cpu_seconds(server.pids()), cpu_seconds(db.backend_pids())
        client_before = time.process_time()
        result = run_load(server.port, requests, concurrency=CONCURRENCY, deadline_s=DEADLINE_S)
        client_cpu = time.process_time() - client_before
        app_cpu = cpu_delta(app_before, cpu_seconds(server.pids()))
        db_cpu = cpu_delta(db_before, cpu_seconds(db.backend_pids()))
    log = server.log()
    stored = db.scalar(f"SELECT count(*) FROM {table}") - before
    answered = warmup.ok + result.ok
    checks = []
    if stored != answered:
        checks.append(f"LOSS: {answered} answered 2xx, {stored} stored")
    if result.unsent or warmup.unsent:
        checks.append(f"{result.unsent + warmup.unsent} not sent before the deadline")
    if portal:
        new_messages = db.scalar("SELECT count(*) FROM messaging_message") - messages_before
        expected = len(warm.inbound_sids) + len(work.inbound_sids)
        if new_messages != expected:
            checks.append(f"{new_messages} new messages, expected {expected} (one per inbound SID)")
        sids = warm.outbound_sids + work.outbound_sids
        marks = ",".join(["%s"] * len(sids))
        pending = db.scalar(
            "SELECT count(*) FROM messaging_message "
            f"WHERE message_sid IN ({marks}) AND status NOT IN ('delivered', 'failed')",
            sids,
        )
        if pending:
            checks.append(f"{pending} outbound messages short of their final status")
    errors = log.count("Traceback")
    if errors:
        checks.append(f"{errors} tracebacks in {server.log_path.relative_to(REPO)}")
    per_request = 1000 / max(result.count, 1)
    return Run(
        db=db.label,
        server=server_kind,
        round=rnd,
        result=result,
        stored=stored,
        checks=checks,
        lost=max(answered - stored, 0),
        locked=log.count("database is locked"),
        load=load,
        app_ms=app_cpu * per_request,
        db_ms=db_cpu * per_request,
        client_ms=client_cpu * per_request,
    )


def bench_database(db: Database, rng: random.Random) -> list[Run]:
    print(f"\n{db.label}: {db.name}", flush=True)
    env = portal_env(db)
    migrate(env)
    db.query(BASELINE_TABLE_SQL[db.kind])
    customers = [f"1555{n:07d}" for n in rng.sample(range(10**7), 3000)]
    rounds = [
        (make_workload(WARMUP, rng, customers), make_workload(REQUESTS, rng, customers))
        for _ in range(ROUNDS)
    ]
    seed(env, [row for warm, work in rounds for row in warm.seeds + work.seeds])
    runs = []
    for rnd, (warm, work) in enumerate(rounds, start=1):
        for kind in ("baseline", "portal"):
            run = one_run(db, env, kind, rnd, warm, work)
            r = run.result
            print(
                f"  round {rnd} {kind:8} {r.rate:7.0f}/s  p50 {r.ms(50):5.1f} ms  "
                f"p99 {r.ms(99):6.1f} ms  non-2xx {r.non_2xx}  errors {r.errors}  "
                f"CPU/req app {run.app_ms:.2f} db {run.db_ms:.2f} client {run.client_ms:.2f} ms  "
                f"load {run.load:.1f}  "
                f"{'; '.join(run.checks) or 'checks ok'}",
                flush=True,
            )
            runs.append(run)
    if db.kind == "postgresql":
        NOTES.append(in_django(__file__, env, "--statements"))
        print(NOTES[-1], end="", flush=True)
    return runs


def combined(runs: list[Run]) -> dict:
    latencies = [x for run in runs for x in run.result.latencies]
    count = sum(run.result.count for run in runs)
    return {
        "rate": count / sum(run.result.elapsed for run in runs),
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "bad": sum(run.result.non_2xx + run.result.errors for run in runs),
        "locked": sum(run.locked for run in runs),
        "lost": sum(run.lost for run in runs),
        "failed_checks": sum(len(run.checks) for run in runs),
        "cpu": sum((run.app_ms + run.db_ms) * run.result.count for run in runs) / count,
        "client": sum(run.client_ms * run.result.count for run in runs) / count,
    }


# --- inbound SMS against inbound MMS (--mms) ------------------------------------------------------

MMS_REQUESTS = int(os.environ.get("BENCH_WEBHOOK_MMS_REQUESTS", "1000"))
MMS_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
MMS_WARMUP = 100
MMS_FILES = 3
MMS_GOAL = 0.90  # the MMS rate at least this share of the SMS rate


def _bodies_bytes(bodies: list[dict]) -> list[bytes]:
    headers = {"Content-Type": "application/json", "User-Agent": "CarrierX-bench"}
    return [request_bytes("POST", PATH, json.dumps(b).encode(), headers) for b in bodies]


def _mms_cpu_here(samples: int = 400) -> None:
    """CPU per new inbound SMS and per new inbound MMS in this process (Django test client, no
    HTTP server), the two kinds interleaved one by one so a busy machine's drift hits both."""
    _django_setup()
    from django.db import connection
    from django.test import Client

    rng = random.Random(15)
    customers = [f"155599902{n:02d}" for n in range(60)]
    kinds = {
        "SMS": inbound_bodies(samples, rng, customers, files=0),
        f"MMS, {MMS_FILES} files": inbound_bodies(samples, rng, customers, files=MMS_FILES),
    }
    client = Client(HTTP_HOST="127.0.0.1")
    cpu = dict.fromkeys(kinds, 0.0)
    statements = dict.fromkeys(kinds, 0)
    count = [0]

    def counted(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    order = list(kinds)
    for n in range(samples):
        # Alternate which kind goes first: whatever the first request of a pair pays for (a
        # cache refresh, the collector) would otherwise land on SMS every time.
        for kind in order if n % 2 == 0 else order[::-1]:
            body = json.dumps(kinds[kind][n])
            count[0] = 0
            started = time.process_time()
            with connection.execute_wrapper(counted):
                answer = client.post(PATH, body, content_type="application/json", secure=True)
            cpu[kind] += time.process_time() - started
            statements[kind] += count[0]
            if answer.status_code != 200:
                raise SystemExit(f"{kind}: the webhook answered {answer.status_code}")
    sms, mms = (cpu[k] * 1000 / samples for k in kinds)
    print_table(
        ["callback", "statements", "CPU ms", "vs SMS"],
        [
            [k, statements[k] / samples, cpu[k] * 1000 / samples, f"{v / sms:.2f}"]
            for k, v in zip(kinds, (sms, mms), strict=True)
        ],
        title=(
            f"CPU per new inbound callback in the portal's code (in-process test client, "
            f"{samples} of each, interleaved, alternating which goes first; includes the "
            "client's own overhead)"
        ),
    )


def mms_run(db: Database, env: dict, kind: str, rnd: int, warm: list[dict], work: list[dict]):
    counts = {
        t: db.scalar(f"SELECT count(*) FROM {t}")
        for t in (
            "messaging_message",
            "messaging_messagemedia",
            "django_tasks_database_dbtaskresult",
        )
    }
    load = os.getloadavg()[0]
    with Server(env, f"webhook-mms-{db.kind}-{kind}-{rnd}") as server:
        run_load(server.port, _bodies_bytes(warm), concurrency=CONCURRENCY)
        requests = _bodies_bytes(work)
        app_before, db_before = cpu_seconds(server.pids()), cpu_seconds(db.backend_pids())
        result = run_load(server.port, requests, concurrency=CONCURRENCY, deadline_s=DEADLINE_S)
        app_cpu = cpu_delta(app_before, cpu_seconds(server.pids()))
        db_cpu = cpu_delta(db_before, cpu_seconds(db.backend_pids()))
    grew = {t: db.scalar(f"SELECT count(*) FROM {t}") - n for t, n in counts.items()}
    files = MMS_FILES if kind == "mms" else 0
    n = len(warm) + len(work)
    expected = {"messaging_message": n, "messaging_messagemedia": n * files}
    checks = [
        f"{t}: {grew[t]} new rows, expected {want}"
        for t, want in expected.items()
        if grew[t] != want
    ]
    # One download task serves a burst: a callback queues one only when none waits to start, so
    # only callbacks that arrived together before the first committed may each have queued one.
    tasks = grew["django_tasks_database_dbtaskresult"]
    waiting = db.scalar(
        "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'READY' "
        "AND task_path = 'messaging.tasks.download_media_task'"
    )
    if files and not (waiting >= 1 and tasks <= CONCURRENCY):
        checks.append(f"{tasks} download tasks queued, {waiting} waiting; expected 1 to 32 queued")
    if not files and tasks:
        checks.append(f"{tasks} tasks queued by SMS callbacks")
    if errors := server.log().count("Traceback"):
        checks.append(f"{errors} tracebacks in {server.log_path.relative_to(REPO)}")
    per_request = 1000 / max(result.count, 1)
    return {
        "db": db.label,
        "kind": kind,
        "round": rnd,
        "result": result,
        "load": load,
        "cpu": (app_cpu + db_cpu) * per_request,
        "checks": checks,
    }


def mms_main() -> int:
    print_machine()
    print(
        f"{Server({}, 'probe').shape}; client: {CONCURRENCY} threads; {MMS_WARMUP} warm-up + "
        f"{MMS_REQUESTS} new inbound callbacks per run, {MMS_ROUNDS} rounds of SMS and MMS "
        f"({MMS_FILES} media_urls), alternating which goes first; no task worker"
    )
    rng = random.Random(14)
    wanted = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")
    databases = []
    if "postgresql" in wanted and pg_available():
        databases.append(lambda: Database.postgres("bench_webhook_mms"))
    if "sqlite" in wanted:
        databases.append(Database.sqlite)
    runs = []
    for make in databases:
        db = make()
        try:
            print(f"\n{db.label}: {db.name}", flush=True)
            env = portal_env(db)
            migrate(env)
            customers = [f"1555{n:07d}" for n in rng.sample(range(10**7), 3000)]
            for rnd in range(1, MMS_ROUNDS + 1):
                order = ("sms", "mms") if rnd % 2 else ("mms", "sms")
                for kind in order:
                    files = MMS_FILES if kind == "mms" else 0
                    warm = inbound_bodies(MMS_WARMUP, rng, customers, files=files)
                    work = inbound_bodies(MMS_REQUESTS, rng, customers, files=files)
                    run = mms_run(db, env, kind, rnd, warm, work)
                    r = run["result"]
                    print(
                        f"  round {rnd} {kind}  {r.rate:7.0f}/s  p50 {r.ms(50):6.1f} ms  "
                        f"p99 {r.ms(99):7.1f} ms  non-2xx {r.non_2xx}  errors {r.errors}  "
                        f"CPU/req {run['cpu']:.2f} ms  load {run['load']:.1f}  "
                        f"{'; '.join(run['checks']) or 'checks ok'}",
                        flush=True,
                    )
                    runs.append(run)
            NOTES.append(f"{db.label}:\n" + in_django(__file__, env, "--mms-cpu"))
            print(NOTES[-1], end="", flush=True)
        finally:
            db.drop()

    rows = []
    all_met = True
    for label in dict.fromkeys(run["db"] for run in runs):
        summary = {}
        for kind in ("sms", "mms"):
            mine = [run for run in runs if run["db"] == label and run["kind"] == kind]
            count = sum(run["result"].count for run in mine)
            latencies = [x for run in mine for x in run["result"].latencies]
            summary[kind] = {
                "rate": count / sum(run["result"].elapsed for run in mine),
                "p50": percentile(latencies, 50) * 1000,
                "p99": percentile(latencies, 99) * 1000,
                "bad": sum(run["result"].non_2xx + run["result"].errors for run in mine),
                "checks": sum(len(run["checks"]) for run in mine),
                "cpu": sum(run["cpu"] * run["result"].count for run in mine) / count,
                "per_round": [round(run["result"].rate) for run in mine],
            }
        sms, mms = summary["sms"], summary["mms"]
        ratio = mms["rate"] / sms["rate"]
        # Each round's MMS run against its SMS run: on a shared machine the median of these
        # says more than the totals, which one slow run can sway.
        by_round = [m / s for s, m in zip(sms["per_round"], mms["per_round"], strict=True)]
        rounds = " / ".join(f"{r:.2f}" for r in by_round)
        met = ratio >= MMS_GOAL and not (sms["bad"] or mms["bad"] or sms["checks"] or mms["checks"])
        all_met = all_met and met
        for kind, row in (("SMS", sms), (f"MMS, {MMS_FILES} files", mms)):
            rows.append(
                [
                    label,
                    kind,
                    round(row["rate"]),
                    " / ".join(map(str, row["per_round"])),
                    row["p50"],
                    row["p99"],
                    row["cpu"],
                    row["bad"],
                    row["checks"],
                    f"{ratio:.2f}" if row is mms else "",
                    f"{statistics.median(by_round):.2f} ({rounds})" if row is mms else "",
                    ("met" if met else "MISSED") if row is mms else "",
                ]
            )
    print()
    text = print_table(
        [
            "database",
            "callbacks",
            "per s",
            "per s by round",
            "p50 ms",
            "p99 ms",
            "CPU ms/cb",
            "non-2xx",
            "failed checks",
            "MMS/SMS rate",
            "median of rounds (each round)",
            f"goal ≥ {MMS_GOAL:.2f}",
        ],
        rows,
        title=(
            f"Webhook: new inbound SMS against new inbound MMS ({MMS_FILES} media_urls), "
            f"{CONCURRENCY} concurrent, {MMS_REQUESTS:,} per run, no task worker; CPU = gunicorn "
            "+ PostgreSQL backends per callback"
        ),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_webhook_mms.txt").write_text("\n\n".join([text, *NOTES]) + "\n")
    return 1 if strict() and not all_met else 0


def main() -> int:
    if "--mms-cpu" in sys.argv:
        _mms_cpu_here()
        return 0
    if "--mms" in sys.argv:
        return mms_main()
    if "--seed" in sys.argv:
        _seed_here(sys.argv[sys.argv.index("--seed") + 1])
        return 0
    if "--statements" in sys.argv:
        _statements_here()
        return 0
    print_machine()
    shape = Server({}, "probe").shape
    print(
        f"{shape}; client: {CONCURRENCY} threads, raw keep-alive sockets, same machine; "
        f"{WARMUP} warm-up + {REQUESTS} callbacks per run, {ROUNDS} rounds (baseline, portal)"
    )
    rng = random.Random(6)
    wanted = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")
    databases = []
    if "postgresql" in wanted and pg_available():
        databases.append(lambda: Database.postgres("bench_webhook"))
    elif "postgresql" in wanted:
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it")
    if "sqlite" in wanted:
        databases.append(Database.sqlite)

    runs: list[Run] = []
    for make in databases:
        db = make()
        try:
            runs += bench_database(db, rng)
        finally:
            db.drop()

    rows = []
    for run in runs:
        r = run.result
        rows.append(
            [
                run.db,
                run.server,
                run.round,
                r.count,
                r.ok,
                r.non_2xx,
                r.errors,
                round(r.rate),
                r.ms(50),
                r.ms(99),
                max(r.latencies) * 1000,
                run.stored,
                run.locked,
                run.app_ms,
                run.db_ms,
                run.client_ms,
                run.load,
                "; ".join(run.checks) or "ok",
            ]
        )
    print()
    text = print_table(
        [
            "database",
            "server",
            "round",
            "requests",
            "2xx",
            "non-2xx",
            "conn err",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "stored",
            "locked",
            "app CPU ms",
            "db CPU ms",
            "client CPU ms",
            "load",
            "checks (loss: 2xx incl. warm-up == stored)",
        ],
        rows,
        title="Webhook ingestion, per run (stored counts warm-up too)",
    )

    summary = []
    all_met = True
    for label, kind in (("PostgreSQL", "postgresql"), ("SQLite", "sqlite")):
        if not any(r.db == label for r in runs):
            continue
        portal = combined([r for r in runs if r.db == label and r.server == "portal"])
        base = combined([r for r in runs if r.db == label and r.server == "baseline"])
        min_rate, max_p99 = GOALS[kind]
        met = (
            portal["rate"] >= min_rate
            and portal["bad"] == 0
            and portal["locked"] == 0
            and portal["failed_checks"] == 0
            and (max_p99 is None or portal["p99"] <= max_p99)
        )
        rate_ratio, p99_ratio = portal["rate"] / base["rate"], portal["p99"] / base["p99"]
        met_bare = (
            rate_ratio >= MIN_RATE_PER_BARE
            and p99_ratio <= MAX_P99_PER_BARE
            and portal["bad"] == 0
            and portal["lost"] == 0
        )
        all_met = all_met and met and met_bare
        goal = f"≥ {min_rate:,.0f}/s" + (f", p99 ≤ {max_p99:.0f} ms" if max_p99 else "")
        summary.append(
            [
                label,
                round(portal["rate"]),
                portal["p50"],
                portal["p99"],
                portal["bad"],
                portal["locked"],
                portal["lost"],
                round(base["rate"]),
                base["p99"],
                f"{rate_ratio:.2f}",
                f"{p99_ratio:.1f}",
                portal["cpu"],
                base["cpu"],
                f"{portal['cpu'] / base['cpu']:.1f}",
                # What the CPU alone allows: every core busy with server, database and client.
                round(CORES * 1000 / (portal["cpu"] + portal["client"])),
                goal + ", 0 non-2xx",
                "met" if met else "MISSED",
                "met" if met_bare else "MISSED",
            ]
        )
    print()
    text += "\n\n" + print_table(
        [
            "database",
            "portal/s",
            "p50 ms",
            "p99 ms",
            "non-2xx",
            "locked",
            "lost",
            "baseline/s",
            "base p99",
            "rate portal/base",
            "p99 portal/base",
            "CPU ms/cb",
            "base CPU ms",
            "CPU portal/base",
            "CPU ceiling/s",
            "goal",
            "",
            f"vs bare: rate ≥ {MIN_RATE_PER_BARE}×, p99 ≤ {MAX_P99_PER_BARE:.0f}×, 0 lost",
        ],
        summary,
        title=(
            f"Webhook ingestion, all rounds ({CONCURRENCY} concurrent, {REQUESTS:,} callbacks "
            "per run; CPU = gunicorn + PostgreSQL backends per request; "
            f"ceiling = {CORES} cores / (CPU + client CPU) per callback)"
        ),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_webhook.txt").write_text("\n\n".join([text, *NOTES]) + "\n")
    return 1 if strict() and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
