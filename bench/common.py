"""Shared pieces of the benchmarks: scratch databases, a gunicorn server, a lean HTTP load
generator, percentiles and a plain-text table.

Everything is loopback-only and bounded: a fixed number of requests, a deadline per run, and a
server that is always stopped. The client shares the machine's cores with the server and the
database, so it is deliberately small: raw keep-alive sockets with pre-built request bytes, one
per thread, and no HTTP library on the hot path.
"""

from __future__ import annotations

import itertools
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"  # git-ignored: server logs, EXPLAIN output
PYTHON = str(REPO / ".venv" / "bin" / "python")
GUNICORN = str(REPO / ".venv" / "bin" / "gunicorn")
WEBHOOK_SECRET = "bench-secret"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

# 2 cores: a few processes sidestep the GIL, a few threads each cover the time spent waiting on
# the database. Overridable to try other shapes without editing the scripts.
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))


# --- the machine -------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
    }


def print_machine() -> None:
    m = machine()
    print(
        f"{m['date']} · {m['cpus']} CPUs ({m['cpu']}) · {m['memory']} RAM · "
        f"load {m['load']} · Python {m['python']}"
    )


# --- databases ---------------------------------------------------------------------------------


def db_name(name: str) -> str:
    """`name` plus BENCH_DB_SUFFIX: two checkouts benchmarked side by side (an old commit against
    the new one) keep their own scratch databases instead of dropping each other's."""
    return name + os.environ.get("BENCH_DB_SUFFIX", "")


def _check_name(name: str) -> None:
    # Only ever our own scratch databases: never `test` or the test runs' `test_*`.
    if not name.startswith("bench_") or not name.replace("_", "").isalnum():
        raise ValueError(f"refusing to touch database {name!r}: bench databases are bench_*")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@dataclass
class Database:
    """A scratch database the portal can be pointed at with DATABASE_URL."""

    kind: str  # "postgresql" | "sqlite"
    name: str  # database name, or the SQLite file path
    tmpdir: str | None = None

    @classmethod
    def postgres(cls, name: str, *, fresh: bool = True) -> Database:
        """`fresh` drops and recreates it; otherwise it is created only when missing."""
        name = db_name(name)
        _check_name(name)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists and fresh:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if fresh or not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return cls("postgresql", name)

    @classmethod
    def sqlite(cls) -> Database:
        tmpdir = tempfile.mkdtemp(prefix="bench-sqlite-")
        return cls("sqlite", str(Path(tmpdir) / "portal.sqlite3"), tmpdir)

    @property
    def url(self) -> str:
        if self.kind == "postgresql":
            return f"postgres://postgres@127.0.0.1:5432/{self.name}"
        return f"sqlite:///{self.name}"

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.kind == "postgresql" else "SQLite"

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        if self.kind == "postgresql":
            with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={self.name}") as c:
                cur = c.execute(sql, params)
                return cur.fetchall() if cur.description else []
        with sqlite3.connect(self.name, timeout=30) as c:
            return c.execute(sql.replace("%s", "?"), params).fetchall()

    def scalar(self, sql: str, params: tuple | list = ()):
        return self.query(sql, params)[0][0]

    def backend_pids(self) -> list[int]:
        """PostgreSQL backends serving this database (their CPU is the database's share)."""
        if self.kind != "postgresql":
            return []
        rows = self.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'",
            [self.name],
        )
        return [pid for (pid,) in rows]

    def drop(self) -> None:
        if self.kind == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        elif self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def portal_env(db: Database, **extra: str) -> dict[str, str]:
    """The environment of a production-like portal process on `db`."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.portal_settings",
        DATABASE_URL=db.url,
        DEBUG="off",
        SECRET_KEY="bench-not-a-secret-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        CARRIERX_SANDBOX="on",
        CARRIERX_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LOG_LEVEL="WARNING",
        # Production runs behind a TLS proxy (README); the client sends what that proxy adds.
        BEHIND_TLS_PROXY="on",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def baseline_env(env: dict[str, str]) -> dict[str, str]:
    """`env` served by the bare yardstick views (bench/baseline_urls.py) instead of the portal:
    same database, SECRET_KEY and middleware, so the portal's session cookie signs in there too."""
    return {**env, "DJANGO_SETTINGS_MODULE": "bench.baseline_settings"}


def manage(env: dict[str, str], *args: str) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    print(f"  manage.py {args[0]}: {time.monotonic() - started:.1f} s", flush=True)


def migrate(env: dict[str, str]) -> None:
    """Migrate, and collect static files as a production deploy does (into bench/out/)."""
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`gunicorn portal.wsgi` (gthread) on a free loopback port, logging to bench/out/<name>.log."""

    def __init__(
        self,
        env: dict[str, str],
        name: str,
        *,
        workers: int = WORKERS,
        threads: int = THREADS,
        config: str | None = None,
    ) -> None:
        self.env = dict(env)
        self.name = name
        self.workers = workers
        self.threads = threads
        self.config = config  # a gunicorn settings file (`--config`), as a path from REPO
        self.port = free_port()
        self.env["PORT"] = str(self.port)
        OUT.mkdir(parents=True, exist_ok=True)
        self.log_path = OUT / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def shape(self) -> str:
        return f"gunicorn gthread {self.workers} workers × {self.threads} threads"

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        cmd = [
            GUNICORN,
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--keep-alive",
            "30",
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
        ]
        if self.config:
            cmd += ["--config", self.config]
        log = open(self.log_path, "w")  # noqa: SIM115 (kept open for the server's lifetime)
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()}")
            probe = Conn(self.port, timeout=10)
            try:
                status = probe.request(request_bytes("GET", "/__bench_ping__"))[0]
            except OSError:
                time.sleep(0.1)
                continue
            finally:
                probe.close()
            if status:
                return
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid) if self.proc else []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- CPU accounting: robust where wall-clock figures are not on a shared machine -----------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()  # fields from "state" on; comm may hold spaces


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (gunicorn's master and workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            parents[int(entry)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """user + system CPU seconds per live pid."""
    out = {}
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            out[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


# --- a lean HTTP/1.1 client ------------------------------------------------------------------


# What the TLS-terminating proxy in front of production adds to every request.
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}


def request_bytes(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{key}: {value}" for key, value in PROXY_HEADERS.items()]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Conn:
    """One keep-alive connection to 127.0.0.1:port. `request` sends pre-built bytes and returns
    (status, bytes on the wire, body)."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def request(self, raw: bytes) -> tuple[int, int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            return self._exchange(raw)
        except OSError:
            self.close()
            raise

    def _exchange(self, raw: bytes) -> tuple[int, int, bytes]:
        self.sock.sendall(raw)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        head, buf = buf[:end], buf[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(None, 2)[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip().lower()
        if status in (204, 304) or status < 200:
            body = b""
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
            while len(buf) < length:
                buf += self._recv()
            body, buf = buf[:length], buf[length:]
        elif headers.get(b"transfer-encoding") == b"chunked":
            body, buf, trailer = self._chunked(buf)
            head += trailer
        else:
            while True:  # delimited by close
                try:
                    buf += self._recv()
                except ConnectionError:
                    break
            body, buf = buf, b""
            headers[b"connection"] = b"close"
        self.buf = buf
        wire = len(head) + 4 + len(body)
        if headers.get(b"connection") == b"close":
            self.close()
        return status, wire, body

    def _chunked(self, buf: bytes) -> tuple[bytes, bytes, bytes]:
        body = b""
        framing = b""
        while True:
            while (end := buf.find(b"\r\n")) < 0:
                buf += self._recv()
            size = int(buf[:end].split(b";")[0], 16)
            framing += buf[: end + 2]
            buf = buf[end + 2 :]
            while len(buf) < size + 2:
                buf += self._recv()
            body += buf[:size]
            framing += b"\r\n"
            buf = buf[size + 2 :]
            if size == 0:
                return body, buf, framing


@dataclass
class LoadResult:
    statuses: list[int] = field(default_factory=list)  # 0 = connection error
    latencies: list[float] = field(default_factory=list)  # seconds, client wall time
    wire_bytes: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    unsent: int = 0  # left when the deadline passed

    @property
    def count(self) -> int:
        return len(self.statuses)

    @property
    def ok(self) -> int:
        return sum(1 for s in self.statuses if 200 <= s < 300)

    @property
    def non_2xx(self) -> int:
        return sum(1 for s in self.statuses if s and not 200 <= s < 300)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.statuses if not s)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000


def run_load(
    port: int, requests: list[bytes], *, concurrency: int = 32, deadline_s: float = 120
) -> LoadResult:
    """Send every request once, `concurrency` at a time over keep-alive connections, in list
    order (each thread takes the next one). Stops at the deadline whatever is left."""
    counter = itertools.count()
    total = len(requests)
    per_thread: list[list[tuple[int, float, int]]] = [[] for _ in range(concurrency)]
    start_gate = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def worker(slot: int) -> None:
        conn = Conn(port)
        out = per_thread[slot]
        clock = time.perf_counter
        start_gate.wait()
        while True:
            i = next(counter)
            if i >= total or clock() > stop_at[0]:
                break
            t0 = clock()
            try:
                status, wire, _ = conn.request(requests[i])
            except OSError:
                status, wire = 0, 0
            out.append((status, clock() - t0, wire))
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    stop_at[0] = t0 + deadline_s
    start_gate.wait()
    for t in threads:
        t.join(deadline_s + 60)
    result = LoadResult(elapsed=time.perf_counter() - t0)
    for rows in per_thread:
        for status, latency, wire in rows:
            result.statuses.append(status)
            result.latencies.append(latency)
            result.wire_bytes.append(wire)
    result.unsent = total - result.count
    return result


# --- numbers and tables ------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fmt(value, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(headers: list[str], rows: list[list], title: str = "") -> str:
    """Plain aligned text; numbers right-aligned. Returns the text too."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out += [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    text = "\n".join(out)
    print(text, flush=True)
    return text


def strict() -> bool:
    """BENCH_STRICT=1 makes a missed goal or a failed check exit non-zero."""
    return os.environ.get("BENCH_STRICT", "") not in ("", "0", "off", "no")


def in_django(script: str, env: dict[str, str], *args: str, timeout: int = 300) -> str:
    """Run `script` again in a child process, with `args` choosing its in-Django mode and `env`
    pointing Django at the bench database; return what it printed, or stop the benchmark."""
    done = subprocess.run(
        [PYTHON, str(Path(script).resolve()), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
