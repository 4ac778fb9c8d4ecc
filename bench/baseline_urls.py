"""The bare Django views the benchmarks divide by, behind the portal's own middleware.

- `insert_one` does one INSERT: the webhook benchmark's yardstick. Its table is created by the
  benchmark script (`BASELINE_TABLE_SQL`); there is no model, so the portal's migrations are
  untouched.
- `signed_in` answers 204 to a signed-in user and does nothing else: the yardstick of the inbox
  benchmark's "nothing new" polls (issue 18: a poll ≤ 2 × a bare signed-in view). The session
  and the user are read as on any portal page, which is the floor every poll pays.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

BASELINE_TABLE_SQL = {
    "postgresql": "CREATE TABLE IF NOT EXISTS bench_baseline "
    "(id bigserial PRIMARY KEY, received_at timestamptz NOT NULL, body text NOT NULL)",
    "sqlite": "CREATE TABLE IF NOT EXISTS bench_baseline "
    "(id integer PRIMARY KEY AUTOINCREMENT, received_at text NOT NULL, body text NOT NULL)",
}
SIGNED_IN_PATH = "/bench/signed-in/"


@csrf_exempt
def insert_one(request: HttpRequest, secret: str) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline (received_at, body) VALUES (%s, %s)",
            [timezone.now(), request.body.decode("utf-8")],
        )
    return JsonResponse({"ok": True})


@login_required
def signed_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


urlpatterns = [
    # The webhook's own path shape, so both servers see byte-identical requests.
    path("webhooks/carrierx/<str:secret>/", insert_one),
    path(SIGNED_IN_PATH.strip("/") + "/", signed_in),
]
