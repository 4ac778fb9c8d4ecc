"""Send click to page answer under a slow carrier: the Messaging page's Send form against gunicorn
while the sandbox carrier takes 2 s per send, with a real task worker sending beside it.

Goal (issue 6): p95 ≤ 300 ms from the Send click to the page's answer with sandbox latency 2 s.
The view only saves the row and enqueues `send_message_task` (messaging/services/outbound.py), so
the page must answer fast even while the worker is stuck 2 s on every carrier call.

Per database (PostgreSQL, SQLite): migrate, start gunicorn (sandbox mode on), seed the sandbox
with PUBLIC_URL and CARRIERX_API_URL pointing at it, PATCH `/sandbox/control` to
`latency_seconds: 2`, fill the DID cache with `manage.py numbers_sync` (pages never call the
carrier), start `manage.py db_worker` beside it, create a *Senders* member, sign in through
`/accounts/login/`, GET /messaging/ once, then click Send N times,
one after another: the POST with redirects not followed (the answer is the 302), then the GET of
the page it redirects to. "POST → 302" is the first; "full click" is both, what a person waits
for. Afterwards: how many of the queued messages the worker got to the carrier during the run,
and how long its send tasks took (the 2 s latency shows there).

    .venv/bin/python bench/bench_send.py      # BENCH_SEND_CLICKS (200), BENCH_DATABASES
"""

from __future__ import annotations

import json
import os
import re
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
    strict,
)

CLICKS = int(os.environ.get("BENCH_SEND_CLICKS", "200"))
WARMUP = 10
DEADLINE_S = 120  # for the timed clicks of one database
LATENCY_S = 2.0
GOAL_MS = 300.0
OTHER_FAULTS = ["rate_limit", "rate_limit_no_retry_after", "error_before", "timeout_after", "drop"]
USERNAME = "bench-sender"
FROM_DID = "15162065575"  # the sandbox's "Main line"
TO_DID = "+1 (516) 206-5574"  # the tutorial's handset, as a person types it
MESSAGE = "Your table for 4 is booked at 7:30 pm tonight. Reply C to cancel."


# --- in Django (on the bench database) -------------------------------------------------------


def _django_setup() -> None:
    import django

    django.setup()


def _user_here(password: str) -> None:
    """A Senders member with a usable password (signed in through the form, as a person is)."""
    _django_setup()
    from django.contrib.auth.models import Group, Permission, User
    from django.contrib.contenttypes.models import ContentType

    from portal.roles import SENDERS, ensure_roles

    ensure_roles(Group, Permission, ContentType)
    user, _ = User.objects.get_or_create(username=USERNAME)
    user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get(name=SENDERS))


def _report_here() -> None:
    """Where the outbound messages and the worker's send tasks stand, as JSON."""
    _django_setup()
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from messaging.models import Direction, Message

    outbound = Message.objects.filter(direction=Direction.OUTBOUND)
    statuses = dict(outbound.values_list("status").order_by().annotate(n=Count("id")))
    sends = DBTaskResult.objects.filter(task_path__endswith=".send_message_task")
    durations = [
        (finished - started).total_seconds()
        for started, finished in sends.filter(finished_at__isnull=False).values_list(
            "started_at", "finished_at"
        )
    ]
    tasks = dict(DBTaskResult.objects.values_list("status").order_by().annotate(n=Count("id")))
    print(
        json.dumps(
            {
                "outbound": outbound.count(),
                "at_carrier": outbound.filter(message_sid__isnull=False).count(),
                "statuses": statuses,
                "send_tasks_done": len(durations),
                "send_task_s": sorted(durations),
                "send_results": list(
                    sends.exclude(status="SUCCESSFUL").values_list("status", flat=True)
                ),
                "tasks": tasks,
            }
        )
    )


# --- the client: a browser's requests, through the TLS proxy production has ------------------


class ProxiedSession(requests.Session):
    """A browser behind the TLS proxy production has: the portal sees HTTPS (X-Forwarded-Proto)
    and sets Secure cookies, while this client talks plain HTTP to the loopback, where the proxy
    would be; so the cookies are kept as not Secure, or they would never be sent back."""

    def request(self, *args, **kwargs) -> requests.Response:
        answer = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return answer


def browser(base: str) -> requests.Session:
    session = ProxiedSession()
    # What the proxy adds, and the Origin a browser sends with a form POST (CSRF checks it).
    session.headers.update(PROXY_HEADERS)
    session.headers["Origin"] = "https://" + base.split("://", 1)[1]
    return session


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not found:
        raise SystemExit("no CSRF token in the form")
    return found.group(1)


def sign_in(session: requests.Session, base: str, password: str) -> None:
    page = session.get(f"{base}/accounts/login/", timeout=30)
    page.raise_for_status()
    answer = session.post(
        f"{base}/accounts/login/",
        data={
            "csrfmiddlewaretoken": csrf_token(page.text),
            "username": USERNAME,
            "password": password,
            "next": "",
        },
        headers={"Referer": f"{session.headers['Origin']}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise SystemExit(f"sign-in answered {answer.status_code}, not 302:\n{answer.text[:2000]}")


def click(session: requests.Session, base: str, token: str) -> tuple[float, float, int, int, str]:
    """One Send click: (POST seconds, POST + page seconds, POST status, page status, page)."""
    t0 = time.perf_counter()
    answer = session.post(
        f"{base}/messaging/",
        data={
            "csrfmiddlewaretoken": token,
            "from_did": FROM_DID,
            "to_did": TO_DID,
            "message": MESSAGE,
        },
        headers={"Referer": f"{session.headers['Origin']}/messaging/"},
        allow_redirects=False,
        timeout=60,
    )
    t1 = time.perf_counter()
    if answer.status_code != 302:
        return t1 - t0, t1 - t0, answer.status_code, 0, answer.text
    page = session.get(base + answer.headers["Location"], timeout=60)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0, answer.status_code, page.status_code, page.text


# --- one database ----------------------------------------------------------------------------


def start_worker(env: dict[str, str], name: str) -> subprocess.Popen:
    log = open(OUT / f"{name}.log", "w")  # noqa: SIM115 (the worker keeps it)
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "db_worker", "--interval", "0.5", "--no-reload"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # the worker finishes its current task, then exits
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def bench_database(db: Database) -> dict:
    print(f"\n{db.label}: {db.name}", flush=True)
    # The worker and the sandbox call this server over plain HTTP (no proxy in between), so the
    # HTTPS redirect production has behind its proxy is off; the client still says "https".
    # SANDBOX_FAULTS pinned empty: latency is the only fault, whatever the caller's environment.
    # The sandbox's fault control needs its token; one chosen here saves reading the kept one.
    sandbox_token = secrets.token_urlsafe(32)
    env = portal_env(
        db, SECURE_SSL_REDIRECT="off", SANDBOX_FAULTS="{}", CARRIERX_TOKEN=sandbox_token
    )
    migrate(env)
    server = Server(env, f"send-{db.kind}")
    base = f"http://127.0.0.1:{server.port}"
    server.env.update(PUBLIC_URL=base, CARRIERX_API_URL=f"{base}/sandbox/core/v2")
    env = server.env
    manage(env, "sandbox_seed")
    password = secrets.token_urlsafe(18)
    in_django(__file__, env, "--user", password)

    with server:
        control = requests.patch(
            f"{base}/sandbox/control",
            json={"latency_seconds": LATENCY_S, "apply_to": "send"},
            headers={**PROXY_HEADERS, "Authorization": f"Bearer {sandbox_token}"},
            timeout=30,
        )
        control.raise_for_status()
        faults = control.json()
        # Pages only read the DID cache; a sync (here, of the sandbox this server runs) fills it.
        manage(env, "numbers_sync")
        worker = start_worker(env, f"send-{db.kind}-worker")
        try:
            session = browser(base)
            sign_in(session, base, password)
            page = session.get(f"{base}/messaging/", timeout=60)
            if page.status_code != 200 or f'value="{FROM_DID}"' not in page.text:
                raise SystemExit(f"/messaging/ answered {page.status_code} without {FROM_DID}")
            token = csrf_token(page.text)
            for _ in range(WARMUP):
                *_, status, page_status, body = click(session, base, token)
                if (status, page_status) != (302, 200):
                    raise SystemExit(f"warm-up click: {status}/{page_status}\n{body[:2000]}")
            before = json.loads(in_django(__file__, env, "--report"))
            posts, fulls, bad = [], [], []
            load = os.getloadavg()[0]
            app_before, db_before = cpu_seconds(server.pids()), cpu_seconds(db.backend_pids())
            started = time.perf_counter()
            for _ in range(CLICKS):
                if time.perf_counter() - started > DEADLINE_S:
                    break
                post_s, full_s, status, page_status, body = click(session, base, token)
                posts.append(post_s)
                fulls.append(full_s)
                if (status, page_status) != (302, 200):
                    bad.append(f"{status}/{page_status}")
            elapsed = time.perf_counter() - started
            app_cpu = cpu_delta(app_before, cpu_seconds(server.pids()))
            db_cpu = cpu_delta(db_before, cpu_seconds(db.backend_pids()))
            after = json.loads(in_django(__file__, env, "--report"))
            worker_alive = worker.poll() is None
        finally:
            stop_worker(worker)
    worker_log = (OUT / f"send-{db.kind}-worker.log").read_text(errors="replace")
    checks = []
    if others := [name for name in OTHER_FAULTS if faults.get(name)]:
        checks.append(f"other faults on: {', '.join(others)}")
    if bad:
        checks.append(f"{len(bad)} clicks not 302 → 200 (first: {bad[0]})")
    if len(posts) < CLICKS:
        checks.append(f"{CLICKS - len(posts)} clicks not made before the deadline")
    if not worker_alive:
        checks.append("the worker had exited")
    if after["outbound"] != WARMUP + len(posts):
        checks.append(f"{after['outbound']} messages stored for {WARMUP + len(posts)} clicks")
    for name, text in (("server", server.log()), ("worker", worker_log)):
        if n := text.count("Traceback"):
            checks.append(f"{n} tracebacks in the {name} log")
    result = {
        "db": db.label,
        "posts": posts,
        "fulls": fulls,
        "ok": len(posts) - len(bad),
        "elapsed": elapsed,
        "load": load,
        "app_ms": app_cpu * 1000 / max(len(posts), 1),
        "db_ms": db_cpu * 1000 / max(len(posts), 1),
        "latency": faults["latency_seconds"],
        "apply_to": faults["apply_to"],
        "before": before,
        "after": after,
        "checks": checks,
    }
    print(
        f"  {len(posts)} clicks in {elapsed:.1f} s: POST p50 {ms(posts, 50):.1f} p95 "
        f"{ms(posts, 95):.1f} ms, full click p50 {ms(fulls, 50):.1f} p95 {ms(fulls, 95):.1f} ms; "
        f"worker: {after['at_carrier'] - before['at_carrier']} reached the carrier during the run, "
        f"{after['at_carrier']} of {after['outbound']} by its end; "
        f"{'; '.join(checks) or 'checks ok'}",
        flush=True,
    )
    return result


def ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000


def main() -> int:
    if "--user" in sys.argv:
        _user_here(sys.argv[sys.argv.index("--user") + 1])
        return 0
    if "--report" in sys.argv:
        _report_here()
        return 0
    print_machine()
    shape = Server({}, "probe").shape
    print(
        f"{shape}, sandbox latency {LATENCY_S:g} s per send, one `db_worker` beside it; "
        f"one client (requests, keep-alive), {WARMUP} warm-up + {CLICKS} clicks one after another"
    )
    wanted = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")
    databases = []
    if "postgresql" in wanted and pg_available():
        databases.append(lambda: Database.postgres("bench_send"))
    elif "postgresql" in wanted:
        print("PostgreSQL is not reachable on 127.0.0.1:5432: skipping it")
    if "sqlite" in wanted:
        databases.append(Database.sqlite)

    results = []
    for make in databases:
        db = make()
        try:
            results.append(bench_database(db))
        finally:
            db.drop()

    rows, all_met = [], True
    for r in results:
        for label, values in (("POST → 302", r["posts"]), ("full click (POST + page)", r["fulls"])):
            met = ms(values, 95) <= GOAL_MS and r["ok"] == len(values) == CLICKS and not r["checks"]
            all_met = all_met and met
            rows.append(
                [
                    r["db"],
                    label,
                    f"{r['ok']}/{CLICKS}",
                    ms(values, 50),
                    ms(values, 95),
                    ms(values, 99),
                    max(values, default=0) * 1000,
                    r["app_ms"],
                    r["db_ms"],
                    r["load"],
                    f"p95 ≤ {GOAL_MS:.0f} ms",
                    "met" if met else "MISSED",
                ]
            )
    print()
    text = print_table(
        [
            "database",
            "timed",
            "302 → 200",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "app CPU ms",
            "db CPU ms",
            "load",
            "goal",
            "",
        ],
        rows,
        title=(
            f"Send click under a slow carrier (sandbox latency {LATENCY_S:g} s on sends), client "
            "wall time; CPU per click: gunicorn (incl. the sandbox answering the worker) and "
            "PostgreSQL backends"
        ),
    )

    rows = []
    for r in results:
        before, after = r["before"], r["after"]
        durations = after["send_task_s"]
        pending = after["statuses"].get("sending", 0)
        rows.append(
            [
                r["db"],
                f"{r['latency']:g} s on {r['apply_to']}",
                r["elapsed"],
                after["outbound"],
                after["at_carrier"] - before["at_carrier"],
                after["at_carrier"],
                pending,
                percentile(durations, 50),
                max(durations, default=0.0),
                ", ".join(f"{k} {v}" for k, v in sorted(after["statuses"].items())),
                "; ".join(r["checks"]) or "ok",
            ]
        )
    print()
    text += "\n\n" + print_table(
        [
            "database",
            "sandbox latency",
            "run s",
            "queued",
            "to carrier in run",
            "to carrier by end",
            "still sending",
            "send task p50 s",
            "max s",
            "messages by status at the end",
            "checks",
        ],
        rows,
        title=(
            f"The worker meanwhile (queued: {WARMUP} warm-up + the timed clicks; one worker, "
            "one task at a time)"
        ),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_send.txt").write_text(text + "\n")
    return 1 if strict() and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
