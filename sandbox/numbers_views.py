"""The sandbox's number routes (CARRIERX-MORE.md §1, §3): the inventory and its coverage, renting
and releasing, and messaging enablement. `GET|PATCH /phonenumber/dids[/{sid}]` stay in
sandbox/api_views.py, which hands POST (rent) and DELETE (release) to this module."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox.api import ApiError, carrier_api, json_object, json_response, not_found
from sandbox.enablement import announce_order, messaging_json, messaging_update, texts
from sandbox.listing import (
    MAX_FILTER_LENGTH,
    apply_filter,
    bounded_int,
    list_response_body,
    page_url,
)
from sandbox.models import SandboxDid
from sandbox.numbers import (
    INVENTORY_FIELDS,
    INVENTORY_SPECIAL,
    did_release,
    did_rent,
    inventory,
)
from sandbox.serializers import did_json

GROUP_BY = ("state", "npa", "npa_nxx", "locality", "country_code")
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


def _boolean(request: HttpRequest, name: str) -> bool:
    raw = request.GET.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(400, f"invalid {name}", [(name, "must be true or false")])
    return raw == "true"


def _filtered_inventory(request: HttpRequest) -> QuerySet[SandboxDid]:
    expression = request.GET.get("filter", "")
    if len(expression) > MAX_FILTER_LENGTH:
        raise ApiError(
            400, "invalid filter", [("filter", f"must be at most {MAX_FILTER_LENGTH} characters")]
        )
    queryset = inventory()
    if expression.strip():
        queryset = apply_filter(queryset, expression, INVENTORY_FIELDS, INVENTORY_SPECIAL)
    return queryset


@csrf_exempt
@carrier_api("GET")
def available_dids(request: HttpRequest) -> HttpResponse:
    """The inventory: DID objects with `status: "available"` and `partner_sid: null`; the carrier
    does not count this list, so `total` is null."""
    body = list_response_body(
        request,
        inventory(),
        fields=INVENTORY_FIELDS,
        serialize=did_json,
        special=INVENTORY_SPECIAL,
        count_total=False,
    )
    return json_response(body)


@csrf_exempt
@carrier_api("GET")
def available_did(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = inventory().filter(did_sid=did_sid).first()
    if did is None:
        raise not_found()
    return json_response(did_json(did))


@csrf_exempt
@carrier_api("GET")
def coverage(request: HttpRequest) -> HttpResponse:
    """How many numbers the inventory has per `group_by` key (`{"count", "key"}`, by key)."""
    group_by = request.GET.get("group_by", "")
    if group_by not in GROUP_BY:
        raise ApiError(
            400, "invalid group_by", [("group_by", f"is required: one of {', '.join(GROUP_BY)}")]
        )
    limit = bounded_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = bounded_int(request, "offset", 0, 0, 2**31 - 1)
    groups = list(
        _filtered_inventory(request)
        .order_by()
        .values(group_by)
        .annotate(count=Count("pk"))
        .order_by(group_by)
    )
    page = [{"count": row["count"], "key": row[group_by]} for row in groups[offset:][:limit]]
    pagination = {}
    if offset + len(page) < len(groups):
        pagination["next"] = page_url(request, limit=limit, offset=offset + limit)
    if offset > 0:
        pagination["previous"] = page_url(request, limit=limit, offset=max(0, offset - limit))
    return json_response(
        {
            "count": len(page),
            "has_more": offset + len(page) < len(groups),
            "items": page,
            "limit": limit,
            "offset": offset,
            "pagination": pagination,
            "total": len(groups),
        }
    )


def rent(request: HttpRequest) -> HttpResponse:
    """`POST /phonenumber/dids`: rent a number (called by api_views.dids under its guard).
    `filter=` narrows which number `{}` rents, as on available_dids."""
    external = _boolean(request, "include_external")
    body = json_object(request)
    did = did_rent(partner=request.partner, body=body, candidates=_filtered_inventory(request))
    if external:
        # A run_after, so it takes its turn among due tasks (see enablement._schedule).
        order = announce_order.using(run_after=timezone.now())
        transaction.on_commit(lambda: order.enqueue(did.did_sid))
    return json_response(did_json(did))


def release(did: SandboxDid) -> HttpResponse:
    """`DELETE /phonenumber/dids/{did_sid}`: 204, empty body."""
    did_release(did=did)
    return HttpResponse(status=204)


@csrf_exempt
@carrier_api("GET", "POST")
def messaging(request: HttpRequest, did_sid: str) -> HttpResponse:
    """The DID's Messaging Enablement object; POST enables or disables (`?force=true` changes
    the settings of enabled messaging in one step). A voice-only DID has none: 404."""
    did = SandboxDid.objects.filter(partner=request.partner, did_sid=did_sid).first()
    if did is None or not texts(did):
        raise not_found()
    if request.method == "POST":
        force = _boolean(request, "force")
        did = messaging_update(did=did, body=json_object(request), force=force)
    return json_response(messaging_json(did))
