"""Bench: a campaign's recipient list of 5,000 and 50,000 rows, read in the request (as before
campaigns/lists.py: the threshold raised past the list) against read by the worker.

For each database and size it prints the seconds the New campaign POST takes to answer (what a
proxy's timeout and a blocked web worker see) and the seconds until the preview is shown (the POST,
the worker's read, the preview page; the reading page's polls, at most a second more, are not
counted). Everything runs in one process per case with Django's test client and the task called
as the worker calls it, so the figures are the portal's own work, not HTTP's.

Knobs: BENCH_DATABASES (postgresql,sqlite), BENCH_IMPORT_ROWS (5000,50000).
Usage: .venv/bin/python bench/bench_campaign_import.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    REPO,
    Database,
    migrate,
    pg_available,
    portal_env,
    print_machine,
)

OUR_DID = "15162065575"


def the_list(rows: int) -> bytes:
    """`rows` distinct US numbers with a name and a company, as a CRM exports them."""
    lines = ["First Name,Phone,Company"]
    lines += [
        f"Ann{i},+1 212-{300 + i // 10000:03d}-{i % 10000:04d},Acme {i % 97}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def _here(rows: int, mode: str) -> None:
    """One case, on the database DATABASE_URL names: prints its figures as JSON."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from campaigns import forms
    from campaigns.lists import campaign_list_read_run
    from campaigns.models import Campaign, ListRead
    from phone_numbers.models import Did
    from tests.conftest import make_user

    if mode == "in request":
        forms.BACKGROUND_ROWS = 10**9  # every list read within the POST, as before
    Did.objects.get_or_create(
        phonenumber=OUR_DID,
        defaults={"did_sid": "bench-did", "capabilities": 7, "active_capabilities": 7},
    )
    user = make_user(f"bench-{mode.replace(' ', '-')}-{rows}-{time.time_ns()}", "Senders")
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    client.force_login(user)
    # Warm: a fresh process's first request pays for imports and template compiling.
    warm = SimpleUploadedFile("warm.csv", the_list(5), content_type="text/csv")
    client.post(
        reverse("campaigns:new"),
        {"name": "Warm", "dids": [OUR_DID], "body": "Hi", "when": "now", "recipients_file": warm},
        secure=True,
        follow=True,
    )
    upload = SimpleUploadedFile("list.csv", the_list(rows), content_type="text/csv")
    data = {
        "name": f"Bench {rows}",
        "dids": [OUR_DID],
        "body": "Hi {first_name}, from {company}",
        "when": "now",
        "recipients_file": upload,
    }
    started = time.perf_counter()
    response = client.post(reverse("campaigns:new"), data, secure=True)
    posted = time.perf_counter() - started
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    if "/lists/" in location:
        job = ListRead.objects.order_by("-pk").first()
        campaign_list_read_run(job.pk)
        job.refresh_from_db()
        assert job.state == "done", job.error
        location = reverse("campaigns:preview", args=[job.campaign_id])
    page = client.get(location, secure=True)
    assert page.status_code == 200 and b"recipients to text" in page.content
    to_preview = time.perf_counter() - started
    campaign = Campaign.objects.get(name=f"Bench {rows}", created_by=user)
    print(
        json.dumps(
            {
                "post_s": posted,
                "preview_s": to_preview,
                "recipients": campaign.recipients.count(),
            }
        )
    )


def run_case(db: Database, rows: int, mode: str, media: str) -> dict:
    env = portal_env(db, MEDIA_ROOT=media)
    out = subprocess.run(
        [PYTHON, __file__, "--here", str(rows), mode],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    print_machine()
    sizes = [int(n) for n in os.environ.get("BENCH_IMPORT_ROWS", "5000,50000").split(",")]
    wanted = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")
    media = tempfile.mkdtemp(prefix="bench-lists-")
    print(f"{'database':<11} {'rows':>7} {'read':<10} {'POST s':>7} {'to preview s':>13}")
    try:
        for kind in wanted:
            if kind == "postgresql" and not pg_available():
                print("postgresql: not reachable, skipped")
                continue
            db = Database.postgres("bench_cv_import") if kind == "postgresql" else Database.sqlite()
            migrate(portal_env(db, MEDIA_ROOT=media))
            for rows in sizes:
                for mode in ("in request", "by worker"):
                    r = run_case(db, rows, mode, media)
                    assert r["recipients"] == rows, r
                    print(
                        f"{db.label:<11} {rows:>7,} {mode:<10} {r['post_s']:>7.2f} "
                        f"{r['preview_s']:>13.2f}",
                        flush=True,
                    )
            if db.tmpdir:
                shutil.rmtree(db.tmpdir, ignore_errors=True)
    finally:
        shutil.rmtree(media, ignore_errors=True)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--here":
        _here(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
