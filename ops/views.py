"""`/healthz` and `/metrics`, for load balancers, monitors and Prometheus."""

from __future__ import annotations

import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ops.health import health_check
from ops.metrics import DatabaseFacts


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    health = health_check()
    return JsonResponse(health.as_json(), status=200 if health.ok else 503)


def _may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and offered and constant_time_compare(offered, token):
        return True
    return request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS):
        raise Http404("Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_IPS.")
    if not _may_scrape(request):
        return HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process of this machine wrote its counts there; add them up.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry) + generate_latest(DatabaseFacts.registry())
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)
