"""A bare Django view doing one INSERT: the yardstick the webhook benchmark divides by.

The table is created by the benchmark script (`BASELINE_TABLE_SQL`); there is no model, so the
portal's migrations are untouched.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

BASELINE_TABLE_SQL = {
    "postgresql": "CREATE TABLE IF NOT EXISTS bench_baseline "
    "(id bigserial PRIMARY KEY, received_at timestamptz NOT NULL, body text NOT NULL)",
    "sqlite": "CREATE TABLE IF NOT EXISTS bench_baseline "
    "(id integer PRIMARY KEY AUTOINCREMENT, received_at text NOT NULL, body text NOT NULL)",
}


@csrf_exempt
def insert_one(request: HttpRequest, secret: str) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline (received_at, body) VALUES (%s, %s)",
            [timezone.now(), request.body.decode("utf-8")],
        )
    return JsonResponse({"ok": True})


# The webhook's own path shape, so both servers see byte-identical requests.
urlpatterns = [path("webhooks/carrierx/<str:secret>/", insert_one)]
