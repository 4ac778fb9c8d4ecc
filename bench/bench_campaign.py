"""A campaign at the carrier's pace (issue 15): 5,000 recipients from a pool of 5 DIDs at 10
messages/s per DID (limit 50/s), against the sandbox with 200 ms and then 2 s per send.

Per database (PostgreSQL, SQLite): migrate, start gunicorn (sandbox mode on) with threads enough
for the sandbox to hold every call open at once (50/s × 2 s = 100, plus the callbacks), seed the
sandbox (rent and enable DIDs through its API if it has fewer than 5 that text), fill the DID
cache with `manage.py numbers_sync`. Then, per configuration (sandbox latency × dispatchers ×
callbacks), each at least twice, in rounds so the machine's load falls on each alike:

1. start the portal's task workers (`manage.py task_worker`, what `deploy/run worker` runs;
   BENCH_CAMPAIGN_WORKERS, default 2: README's "2 or more") with CAMPAIGN_DISPATCHERS set, and,
   with callbacks on, the sandbox's own workers (see below);
2. create the campaign through the services, as the pages do: a CSV read by
   `campaigns.recipients.read_csv`, `recipients_prepare`, `services.campaign_start`; the numbers
   are new for every run, so each run's sends are counted apart at the sandbox;
3. wait for the campaign to finish (or cancel it at BENCH_CAMPAIGN_RUN_S, default 4 × its ideal
   duration + 60 s: on a loaded machine a run's rate is read from what it sent by then), then
   read what the sandbox received.

Figures per run:
- achieved rate: recipients sent / (first to last carrier receipt), as a ratio to the pool's
  limit (50/s); goal ≥ 0.8 on PostgreSQL. "Ideal" is what a perfect dispatcher could reach with
  this list: its busiest DID (sticky senders are not spread exactly evenly) at its pace, whose
  slots are (1 + CAMPAIGN_PACE_MARGIN) / rate apart, sets the duration;
- per DID: the most sends the sandbox received from one DID in any one-second window [t, t+1 s),
  goal ≤ 10. Read from `SandboxMessage.received_at`, when the request reached the sandbox, before
  its injected latency (`date_created` comes after it). The same count at the portal's release
  (`Message.created_at`, written about RELEASE_LEAD before its slot; the call itself waits for
  the slot, and is not made more than half the pace margin after it) says whether an excess
  comes from the pacing or from the way there. The stand-in's workers run without the cyclic
  garbage collector (bench/standin_gunicorn.py): its full collections held the stamps back by up
  to a third of a second (run AD);
- duplicates: recipients the sandbox got more than one text for (by to-number), goal 0;
- CPU seconds of the portal's task workers, of gunicorn (the sandbox answering the sends and, with
  callbacks on, the portal's webhook taking them), of the sandbox's workers, and of the database
  backends (PostgreSQL), from the start to the end of the campaign.

Callbacks. The sandbox moves each message queued → sent → delivered/failed in background steps
and POSTs a callback to the portal's webhook at each: 100 callbacks/s beside 50 sends/s. Its steps
are tasks, and would share the portal's task queue (a carrier's never do: the bench's settings,
bench/campaign_settings.py, put them on a `sandbox` queue). "off": no sandbox worker runs, so no
step runs and no callback is fired during the run (the steps left queued are deleted after it).
"on": BENCH_CAMPAIGN_SANDBOX_WORKERS (4) workers take them during the run, on the same 2 cores;
the table says how many callbacks the portal got during the campaign and how far behind the steps
were when it ended.

The server's threads share a pool of 30 PostgreSQL connections per process (DATABASE_POOL_MAX),
and the sandbox gives its connection back while it waits out its latency: 100 sends waiting 2 s
each would otherwise hold 100 connections, the server's whole max_connections. Before run AA it
opened a connection per request instead (CONN_MAX_AGE=0): a new PostgreSQL backend, its caches
cold, for every send, which cost the carrier's stand-in more CPU than the portal's sending.

    .venv/bin/python bench/bench_campaign.py
    BENCH_CAMPAIGN_RECIPIENTS=500 BENCH_ROUNDS=1 bench/bench_campaign.py     # a short smoke run

Knobs: BENCH_CAMPAIGN_RECIPIENTS (5000), BENCH_DATABASES (postgresql,sqlite),
BENCH_CAMPAIGN_LATENCIES (0.2,2), BENCH_CAMPAIGN_DISPATCHERS (1,2), BENCH_CAMPAIGN_CALLBACKS
(off,on), BENCH_ROUNDS (2), BENCH_CAMPAIGN_WORKERS (2), BENCH_CAMPAIGN_SANDBOX_WORKERS (4),
BENCH_CAMPAIGN_WEB_WORKERS × BENCH_CAMPAIGN_WEB_THREADS (2 × 100), BENCH_CAMPAIGN_RUN_S (the cap),
BENCH_CAMPAIGN_DRAIN_S (60), BENCH_CAMPAIGN_PROFILE=1 (cProfile of the portal's workers, into
bench/out/). The defaults make 16 runs per database (~2 min each on a quiet machine).
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.common import (  # noqa: E402
    OUT,
    PROXY_HEADERS,
    PYTHON,
    REPO,
    Database,
    Server,
    cpu_delta,
    cpu_seconds,
    in_django,
    manage,
    migrate,
    percentile,
    pg_available,
    portal_env,
    print_machine,
    print_table,
    process_tree,
    strict,
)


def _floats(name: str, default: str) -> list[float]:
    return [float(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def _ints(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


RECIPIENTS = int(os.environ.get("BENCH_CAMPAIGN_RECIPIENTS", "5000"))
LATENCIES = _floats("BENCH_CAMPAIGN_LATENCIES", "0.2,2")
DISPATCHERS = _ints("BENCH_CAMPAIGN_DISPATCHERS", "1,2")
CALLBACKS = [
    x.strip() for x in os.environ.get("BENCH_CAMPAIGN_CALLBACKS", "off,on").split(",") if x.strip()
]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_CAMPAIGN_WORKERS", "2"))
SANDBOX_WORKERS = int(os.environ.get("BENCH_CAMPAIGN_SANDBOX_WORKERS", "4"))
WEB_WORKERS = int(os.environ.get("BENCH_CAMPAIGN_WEB_WORKERS", "2"))
WEB_THREADS = int(os.environ.get("BENCH_CAMPAIGN_WEB_THREADS", "100"))
PROFILE = os.environ.get("BENCH_CAMPAIGN_PROFILE", "") not in ("", "0", "off", "no")
POOL_SIZE = 5
RATE_PER_DID = 10
LIMIT = POOL_SIZE * RATE_PER_DID
GOAL_RATIO = 0.8
# A run that has not finished by then is cancelled; its rate is read from what was sent.
RUN_CAP_S = float(os.environ.get("BENCH_CAMPAIGN_RUN_S", "0")) or max(
    90.0, RECIPIENTS / LIMIT * 4 + 60
)
# With callbacks on, how long to wait after a run for the sandbox's steps to end.
DRAIN_S = float(os.environ.get("BENCH_CAMPAIGN_DRAIN_S", "60"))
USERNAME = "bench-campaigns"
BODY = "Hi {first_name}, your spring table is waiting at Luigi's. Reply STOP to opt out."


# --- in Django (on the bench database) -------------------------------------------------------


def _django_setup() -> None:
    import django

    django.setup()


def _pool_here() -> None:
    """The DIDs of the cache that may text now, as JSON (the pool is the first POOL_SIZE)."""
    _django_setup()
    from phone_numbers.models import Did
    from phone_numbers.selectors import send_refusal

    numbers = Did.objects.filter(released_at__isnull=True).order_by("phonenumber")
    sending = [
        n
        for n in numbers.values_list("phonenumber", flat=True)
        if send_refusal(n, media=False) is None
    ]
    print(json.dumps(sending))


def numbers_for(run: int, count: int) -> list[str]:
    """`count` new US mobile numbers for run `run` (an exchange of their own, 300 + run, never an
    N11 one), none ending in 00 or 99, which the sandbox treats as landline and VoIP numbers."""
    out: list[str] = []
    exchange = 300 + run * 3
    while len(out) < count:
        if exchange % 100 == 11:
            exchange += 1
        for line in range(10_000):
            if line % 100 in (0, 99):
                continue
            out.append(f"1212{exchange}{line:04d}")
            if len(out) == count:
                break
        exchange += 1
    return out


def _start_here(run: int, count: int, pool: list[str]) -> None:
    """Create the run's campaign as the pages do and start it; print its id and counts."""
    _django_setup()
    from decimal import Decimal

    from django.contrib.auth.models import User

    from campaigns import services
    from campaigns.models import Campaign
    from campaigns.recipients import read_csv, recipients_prepare

    user, _ = User.objects.get_or_create(username=USERNAME)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["First Name", "Phone"])
    for i, number in enumerate(numbers_for(run, count)):
        writer.writerow([f"Guest{i}", f"+1 ({number[1:4]}) {number[4:7]}-{number[7:]}"])
    campaign = Campaign.objects.create(
        name=f"bench run {run}",
        body=BODY,
        dids=pool,
        rate_per_did=Decimal(RATE_PER_DID),
        created_by=user,
    )
    counts = recipients_prepare(campaign, read_csv(buffer.getvalue().encode()))
    services.campaign_start(campaign)
    print(json.dumps({"campaign": campaign.pk, "counts": counts}))


def _cancel_here(campaign_id: int) -> None:
    _django_setup()
    from campaigns import services
    from campaigns.models import Campaign

    services.campaign_cancel(Campaign.objects.get(pk=campaign_id))


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most of `times` (seconds) in any window [t, t + width)."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _report_here(campaign_id: int) -> None:
    """What the run did, as JSON: at the sandbox (receipts, per-DID windows, duplicates,
    callbacks) and in the portal (recipients, messages, dispatcher task runs)."""
    _django_setup()
    from collections import Counter, defaultdict

    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from campaigns.models import Campaign, Recipient
    from messaging.models import Message
    from sandbox.models import SandboxCallbackAttempt, SandboxMessage

    campaign = Campaign.objects.get(pk=campaign_id)
    recipients = Recipient.objects.filter(campaign=campaign)
    numbers = list(recipients.exclude(number="").values_list("number", flat=True))
    states = dict(recipients.values_list("state").order_by().annotate(n=Count("id")))
    per_did_planned = Counter(
        recipients.exclude(state=Recipient.State.REMOVED).values_list("our_number", flat=True)
    )
    messages = Message.objects.filter(campaign_recipient__campaign=campaign)
    message_states = dict(messages.values_list("status").order_by().annotate(n=Count("id")))
    released = defaultdict(list)
    released_at = {}
    for our, their, created in messages.values_list("our_number", "their_number", "created_at"):
        released[our].append(created.timestamp())
        released_at[their] = created.timestamp()

    at_carrier = SandboxMessage.objects.filter(
        direction=SandboxMessage.Direction.OUTBOUND, to_number__in=numbers
    )
    rows = list(at_carrier.values_list("pk", "from_number", "to_number", "received_at"))
    received = defaultdict(list)
    for _, our, _, at in rows:
        received[our].append(at.timestamp())
    times = [t for ts in received.values() for t in ts]
    # The way from the release (the message's INSERT) to the carrier (its `received_at`): what
    # the pace margin has to absorb.
    ways = sorted(at.timestamp() - released_at[to] for _, _, to, at in rows if to in released_at)
    texted = Counter(to for _, _, to, _ in rows)
    callbacks = SandboxCallbackAttempt.objects.filter(message_id__in=[r[0] for r in rows])
    callback_ok = callbacks.filter(response_status__gte=200, response_status__lt=300).count()

    runs = DBTaskResult.objects.filter(
        task_path__endswith="campaign_dispatch_task", args_kwargs__args__0=campaign_id
    )
    spans = sorted(
        (s.timestamp(), f.timestamp())
        for s, f in runs.filter(finished_at__isnull=False).values_list("started_at", "finished_at")
    )
    idle, covered_to = 0.0, None
    for start, end in spans:
        if covered_to is not None and start > covered_to:
            idle += start - covered_to
        covered_to = end if covered_to is None else max(covered_to, end)
    failed_runs = runs.filter(status="FAILED").count()

    from django.conf import settings

    print(
        json.dumps(
            {
                "pace_margin": getattr(settings, "CAMPAIGN_PACE_MARGIN", 0.0),
                "state": campaign.state,
                "recipients": states,
                "planned_per_did": dict(per_did_planned),
                "messages": message_states,
                "messages_total": sum(message_states.values()),
                "at_carrier": len(rows),
                "texted": len(texted),
                "duplicates": sum(1 for n in texted.values() if n > 1),
                "way_ms": {
                    "p50": percentile(ways, 50) * 1000 if ways else 0.0,
                    "p99": percentile(ways, 99) * 1000 if ways else 0.0,
                    "max": ways[-1] * 1000 if ways else 0.0,
                },
                "first": min(times, default=0.0),
                "last": max(times, default=0.0),
                "per_did": {
                    our: {
                        "sent": len(ts),
                        "max_1s": max_in_window(ts),
                        "max_1s_release": max_in_window(released.get(our, [])),
                    }
                    for our, ts in sorted(received.items())
                },
                "callbacks": callbacks.count(),
                "callbacks_ok": callback_ok,
                "dispatcher_runs": len(spans),
                "dispatcher_failed": failed_runs,
                "dispatcher_idle_s": idle,
                "dispatcher_run_s": [round(e - s, 2) for s, e in spans],
            }
        )
    )


# --- processes -------------------------------------------------------------------------------


def start_worker(env: dict[str, str], name: str, *queue: str) -> subprocess.Popen:
    log = open(OUT / f"{name}.log", "w")  # noqa: SIM115 (the worker keeps it)
    cmd = [PYTHON]
    if PROFILE and not queue:
        cmd += ["-m", "cProfile", "-o", str(OUT / f"{name}.prof")]
    cmd += ["manage.py", "task_worker", "--interval", "0.5", "--no-reload", *queue]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log)
    log.close()
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # the worker finishes its current task, then exits
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tree_pids(procs: list[subprocess.Popen]) -> list[int]:
    return [pid for p in procs for pid in process_tree(p.pid)]


# --- one database ----------------------------------------------------------------------------


def pool_ensure(env: dict[str, str], base: str, token: str) -> list[str]:
    """POOL_SIZE DIDs that text: the seeded ones, or more rented and enabled through the
    sandbox's API (its enablement step runs on a worker, then the cache is synced again)."""
    sending = json.loads(in_django(__file__, env, "--pool"))
    missing = POOL_SIZE - len(sending)
    if missing > 0:
        api = f"{base}/sandbox/core/v2"
        auth = {**PROXY_HEADERS, "Authorization": f"Bearer {token}"}
        for _ in range(missing):
            rented = requests.post(
                f"{api}/phonenumber/dids",
                params={"filter": "capabilities eq 31"},
                json={},
                headers=auth,
                timeout=30,
            )
            rented.raise_for_status()
            enabled = requests.post(
                f"{api}/phonenumber/dids/{rented.json()['did_sid']}/messaging",
                json={"enabled": True},
                headers=auth,
                timeout=30,
            )
            enabled.raise_for_status()
        manage({**env, "SANDBOX_ENABLEMENT_SECONDS": "0"}, "db_worker", "--batch")
        manage(env, "numbers_sync")
        sending = json.loads(in_django(__file__, env, "--pool"))
        print(f"  rented and enabled {missing} DIDs for the pool", flush=True)
    if len(sending) < POOL_SIZE:
        sys.exit(f"only {len(sending)} DIDs can text: {sending}")
    return sending[:POOL_SIZE]


def campaign_state(db: Database, campaign_id: int) -> str:
    return db.scalar("SELECT state FROM campaigns_campaign WHERE id = %s", [campaign_id])


def sandbox_backlog(db: Database) -> int:
    return db.scalar(
        "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE queue_name = 'sandbox' "
        "AND status IN ('READY', 'RUNNING')"
    )


def run_one(
    db: Database,
    env: dict[str, str],
    server: Server,
    *,
    run: int,
    pool: list[str],
    latency: float,
    dispatchers: int,
    callbacks: str,
    control,
) -> dict:
    label = f"{db.label}, {latency:g} s, {dispatchers} dispatcher(s), callbacks {callbacks}"
    print(f"  run {run}: {label}", flush=True)
    control(latency)
    env = {**env, "CAMPAIGN_DISPATCHERS": str(dispatchers)}
    name = f"campaign-{db.kind}-{run}"
    portal = [start_worker(env, f"{name}-worker{i}") for i in range(WORKERS)]
    sandbox = []
    if callbacks == "on":
        sandbox = [
            start_worker(env, f"{name}-sandbox{i}", "--queue-name", "sandbox")
            for i in range(SANDBOX_WORKERS)
        ]
    try:
        time.sleep(3)  # the workers start (Django's set-up is not the campaign's CPU)
        if dead := [p for p in portal + sandbox if p.poll() is not None]:
            sys.exit(f"{len(dead)} workers exited at start; see bench/out/{name}-*.log")
        load = os.getloadavg()[0]
        before = {
            "portal": cpu_seconds(tree_pids(portal)),
            "sandbox": cpu_seconds(tree_pids(sandbox)),
            "web": cpu_seconds(server.pids()),
            "db": cpu_seconds(db.backend_pids()),
        }
        started = time.monotonic()
        begun = json.loads(
            in_django(__file__, env, "--start", str(run), str(RECIPIENTS), ",".join(pool))
        )
        campaign_id = begun["campaign"]
        deadline = started + RUN_CAP_S
        state = ""
        while time.monotonic() < deadline:
            state = campaign_state(db, campaign_id)
            if state in ("finished", "cancelled"):
                break
            time.sleep(0.5)
        capped = state not in ("finished", "cancelled")
        if capped:
            # The rate is read from what was sent; the rest is cancelled, so no dispatcher of
            # this campaign is left for the next run's workers.
            in_django(__file__, env, "--cancel", str(campaign_id))
            time.sleep(latency + 1)  # the sends already on their way reach the sandbox
        elapsed = time.monotonic() - started
        after = {
            "portal": cpu_seconds(tree_pids(portal)),
            "sandbox": cpu_seconds(tree_pids(sandbox)),
            "web": cpu_seconds(server.pids()),
            "db": cpu_seconds(db.backend_pids()),
        }
        cpu = {k: cpu_delta(before[k], after[k]) for k in before}
        backlog = sandbox_backlog(db)
        drain_s = None
        if sandbox:
            drain_started = time.monotonic()
            while sandbox_backlog(db) and time.monotonic() - drain_started < DRAIN_S:
                time.sleep(1)
            if not sandbox_backlog(db):
                drain_s = time.monotonic() - drain_started
        report = json.loads(in_django(__file__, env, "--report", str(campaign_id)))
    finally:
        for proc in portal + sandbox:
            stop_worker(proc)
    # The steps of the callbacks-off run (or what a drain left): the next run starts clean.
    db.query(
        "DELETE FROM django_tasks_database_dbtaskresult "
        "WHERE queue_name = 'sandbox' AND status = 'READY'"
    )
    logs = "".join(
        (OUT / f"{name}-{kind}{i}.log").read_text(errors="replace")
        for kind, n in (("worker", WORKERS), ("sandbox", len(sandbox)))
        for i in range(n)
    )
    sent = report["at_carrier"]
    span = report["last"] - report["first"]
    rate = sent / span if span > 0 else 0.0
    busiest = max(report["planned_per_did"].values(), default=0)
    # The busiest DID's share of the list, at its pace (slots (1 + margin) / rate apart).
    pace = (1 + report["pace_margin"]) / RATE_PER_DID
    ideal = begun["counts"]["send"] / (busiest * pace) / LIMIT if busiest else 0.0
    checks = []
    notes = []
    if capped:
        notes.append(f"cancelled at the {RUN_CAP_S:.0f} s cap")
    elif state != "finished":
        checks.append(f"campaign {state or '?'} after {elapsed:.0f} s")
    if not capped and sent != begun["counts"]["send"]:
        checks.append(f"{sent} of {begun['counts']['send']} reached the sandbox")
    unsettled = report["recipients"].get("claimed", 0) + report["recipients"].get("pending", 0)
    if unsettled:
        checks.append(f"{unsettled} recipients left pending or claimed")
    if sent != report["messages_total"]:
        checks.append(f"{report['messages_total']} messages written, {sent} at the sandbox")
    if n := logs.count("Traceback"):
        checks.append(f"{n} tracebacks in the worker logs")
    if report["dispatcher_failed"]:
        checks.append(f"{report['dispatcher_failed']} dispatcher runs failed")
    result = {
        "db": db.label,
        "run": run,
        "latency": latency,
        "dispatchers": dispatchers,
        "callbacks": callbacks,
        "load": load,
        "elapsed": elapsed,
        "sent": sent,
        "span": span,
        "rate": rate,
        "ratio": rate / LIMIT,
        "ideal": ideal,
        "max_1s": max((d["max_1s"] for d in report["per_did"].values()), default=0),
        "max_1s_release": max((d["max_1s_release"] for d in report["per_did"].values()), default=0),
        "way_ms": report["way_ms"],
        "duplicates": report["duplicates"],
        "cpu": cpu,
        "backlog": backlog,
        "drain_s": drain_s,
        "report": report,
        "checks": checks,
        "notes": notes,
    }
    way = result["way_ms"]
    print(
        f"    {sent} sent in {span:.1f} s: {rate:.1f}/s = {rate / LIMIT:.2f} of {LIMIT}/s "
        f"(ideal {ideal:.2f}); per DID max {result['max_1s']} in 1 s at the sandbox, "
        f"{result['max_1s_release']} at release; release to carrier p50/p99/max "
        f"{way['p50']:.0f}/{way['p99']:.0f}/{way['max']:.0f} ms; "
        f"{report['duplicates']} duplicates; CPU s "
        f"workers {cpu['portal']:.1f}, web {cpu['web']:.1f}, sandbox workers "
        f"{cpu['sandbox']:.1f}, db {cpu['db']:.1f}; callbacks {report['callbacks']} "
        f"(backlog {backlog} at the end); dispatcher runs {report['dispatcher_runs']}, "
        f"idle {report['dispatcher_idle_s']:.1f} s; load {load:.1f}; "
        f"{'; '.join(checks + notes) or 'checks ok'}",
        flush=True,
    )
    return result


def bench_database(db: Database, first_run: int) -> list[dict]:
    print(f"\n{db.label}: {db.name}", flush=True)
    token = secrets.token_urlsafe(32)
    env = portal_env(
        db,
        DJANGO_SETTINGS_MODULE="bench.campaign_settings",
        SECURE_SSL_REDIRECT="off",
        SANDBOX_FAULTS="{}",
        CARRIERX_TOKEN=token,
    )
    migrate(env)
    server = Server(
        {**env, "DATABASE_POOL_MAX": "30"},
        f"campaign-{db.kind}",
        workers=WEB_WORKERS,
        threads=WEB_THREADS,
        config="bench/standin_gunicorn.py",
    )
    base = f"http://127.0.0.1:{server.port}"
    urls = {"PUBLIC_URL": base, "CARRIERX_API_URL": f"{base}/sandbox/core/v2"}
    server.env.update(urls)
    env = {**env, **urls, "PORT": str(server.port)}  # the workers keep their connections
    manage(env, "sandbox_seed")
    results = []
    with server:

        def control(latency: float) -> None:
            answer = requests.patch(
                f"{base}/sandbox/control",
                json={"latency_seconds": latency, "apply_to": "send"},
                headers={**PROXY_HEADERS, "Authorization": f"Bearer {token}"},
                timeout=30,
            )
            answer.raise_for_status()
            faults = answer.json()
            if faults["latency_seconds"] != latency or any(
                faults.get(k) for k in ("rate_limit", "error_before", "timeout_after", "drop")
            ):
                sys.exit(f"the sandbox's faults are not latency alone: {faults}")

        manage(env, "numbers_sync")
        pool = pool_ensure(env, base, token)
        print(f"  pool: {', '.join(pool)}; {server.shape}", flush=True)
        run = first_run
        for _ in range(ROUNDS):
            for latency in LATENCIES:
                for dispatchers in DISPATCHERS:
                    for callbacks in CALLBACKS:
                        results.append(
                            run_one(
                                db,
                                env,
                                server,
                                run=run,
                                pool=pool,
                                latency=latency,
                                dispatchers=dispatchers,
                                callbacks=callbacks,
                                control=control,
                            )
                        )
                        run += 1
    if n := server.log().count("Traceback"):
        for r in results:
            r["checks"].append(f"{n} tracebacks in the server log")
    return results


def per_msg(seconds: float, sent: int) -> float:
    return seconds * 1000 / sent if sent else 0.0


def main() -> int:
    if "--pool" in sys.argv:
        _pool_here()
        return 0
    if "--start" in sys.argv:
        i = sys.argv.index("--start")
        _start_here(int(sys.argv[i + 1]), int(sys.argv[i + 2]), sys.argv[i + 3].split(","))
        return 0
    if "--cancel" in sys.argv:
        _cancel_here(int(sys.argv[sys.argv.index("--cancel") + 1]))
        return 0
    if "--report" in sys.argv:
        _report_here(int(sys.argv[sys.argv.index("--report") + 1]))
        return 0
    print_machine()
    print(
        f"{RECIPIENTS:,} recipients, pool of {POOL_SIZE} DIDs at {RATE_PER_DID}/s each (limit "
        f"{LIMIT}/s); sandbox latency {', '.join(f'{x:g} s' for x in LATENCIES)}; dispatchers "
        f"{', '.join(map(str, DISPATCHERS))}; callbacks {', '.join(CALLBACKS)}; {ROUNDS} rounds; "
        f"{WORKERS} portal task workers, {SANDBOX_WORKERS} sandbox workers when callbacks are on; "
        f"gunicorn gthread {WEB_WORKERS} × {WEB_THREADS}",
        flush=True,
    )
    wanted = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")
    databases = []
    if "postgresql" in wanted and pg_available():
        databases.append(lambda: Database.postgres("bench_campaign"))
    elif "postgresql" in wanted:
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it")
    if "sqlite" in wanted:
        databases.append(Database.sqlite)

    results: list[dict] = []
    for make in databases:
        db = make()
        try:
            results += bench_database(db, first_run=len(results))
        finally:
            db.drop()

    rows, all_met = [], True
    for r in results:
        goal = GOAL_RATIO if r["db"] == "PostgreSQL" else None
        met = (
            (goal is None or r["ratio"] >= goal)
            and r["max_1s"] <= RATE_PER_DID
            and r["duplicates"] == 0
            and not r["checks"]
        )
        all_met = all_met and met
        cpu = r["cpu"]
        rows.append(
            [
                r["db"],
                f"{r['latency']:g} s",
                r["dispatchers"],
                r["callbacks"],
                r["sent"],
                r["span"],
                r["rate"],
                f"{r['ratio']:.2f}",
                f"{r['ideal']:.2f}",
                r["max_1s"],
                r["max_1s_release"],
                r["duplicates"],
                per_msg(cpu["portal"], r["sent"]),
                per_msg(cpu["web"], r["sent"]),
                per_msg(cpu["sandbox"], r["sent"]),
                per_msg(cpu["db"], r["sent"]),
                r["report"]["callbacks"],
                r["backlog"] if r["callbacks"] == "on" else "-",
                r["report"]["dispatcher_idle_s"],
                r["load"],
                "; ".join(
                    r["checks"]
                    + r["notes"]
                    + ["MISSED" if not met else "met" if goal else "ok (no rate goal)"]
                ),
            ]
        )
    print()
    text = print_table(
        [
            "database",
            "latency",
            "disp",
            "callbacks",
            "sent",
            "span s",
            "rate/s",
            "ratio",
            "ideal",
            "max/1s",
            "at release",
            "dup",
            "CPU ms/msg: workers",
            "web",
            "sandbox wk",
            "db",
            "callbacks fired",
            "steps behind",
            "no dispatcher s",
            "load",
            "",
        ],
        rows,
        title=(
            f"Campaign of {RECIPIENTS:,} from {POOL_SIZE} DIDs at {RATE_PER_DID}/s each: rate = "
            f"sent / first-to-last carrier receipt, ratio to {LIMIT}/s (goal ≥ {GOAL_RATIO} on "
            f"PostgreSQL); max/1s = most sends from one DID in any 1 s at the sandbox (goal ≤ "
            f"{RATE_PER_DID}); dup = recipients texted twice (goal 0)"
        ),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_campaign.txt").write_text(text + "\n")
    (OUT / "bench_campaign.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 1 if strict() and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
