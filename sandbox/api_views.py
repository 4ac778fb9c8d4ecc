"""The sandbox's Core API v2 routes: the subset of the carrier's API the portal uses."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import numbers_views
from sandbox.api import carrier_api, json_object, json_response, not_found
from sandbox.listing import Field, integer, list_response_body, timestamp
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxMessage, SandboxPartner
from sandbox.serializers import did_group_json, did_json, partner_json, sms_json
from sandbox.sms import sms_send
from sandbox.updates import did_group_update, did_update, partner_update

MESSAGE_FIELDS = {
    "message_sid": Field("message_sid"),
    "from": Field("from_number"),
    "from_did": Field("from_number"),
    "to": Field("to_number"),
    "to_did": Field("to_number"),
    "message": Field("message"),
    "status": Field("status"),
    "direction": Field("direction"),
    "type": Field("type"),
    "user_data": Field("user_data"),
    "message_segments": Field("message_segments", integer),
    "date_created": Field("date_created", timestamp),
    "date_changed": Field("date_changed", timestamp),
    "date_status_changed": Field("date_status_changed", timestamp),
}
DID_FIELDS = {
    "did_sid": Field("did_sid"),
    "phonenumber": Field("phonenumber"),
    "name": Field("name"),
    "did_group_sid": Field("did_group__did_group_sid"),
    "callback_url": Field("callback_url"),
    "capabilities": Field("capabilities", integer, bits=True),
    "active_capabilities": Field("active_capabilities", integer, bits=True),
    "string_key_1": Field("string_key_1"),
    "string_key_2": Field("string_key_2"),
    "state": Field("state"),
    "locality": Field("locality"),
    "status": Field("status"),
}
DID_GROUP_FIELDS = {
    "did_group_sid": Field("did_group_sid"),
    "name": Field("name"),
    "callback_url": Field("callback_url"),
}
PARTNER_FIELDS = {
    "partner_sid": Field("partner_sid"),
    "name": Field("name"),
    "display_id": Field("display_id"),
    "status": Field("status"),
}


def _one(queryset: QuerySet, **lookup: str) -> Model:
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise not_found()
    return obj


@csrf_exempt
@carrier_api("GET", "POST")
def sms_messages(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        message = sms_send(
            partner=request.partner,
            body=json_object(request),
            received_at=getattr(request, "sandbox_received_at", None),
        )
        return json_response(sms_json(message))
    messages = SandboxMessage.objects.filter(partner=request.partner).select_related("partner")
    fields = MESSAGE_FIELDS
    if not getattr(settings, "SANDBOX_FILTER_ON_USER_DATA", True):
        # Like an older account: `user_data` is not a field it filters (or orders) on.
        fields = {name: field for name, field in MESSAGE_FIELDS.items() if name != "user_data"}
    return json_response(list_response_body(request, messages, fields=fields, serialize=sms_json))


@csrf_exempt
@carrier_api("GET")
def sms_message(request: HttpRequest, message_sid: str) -> HttpResponse:
    messages = SandboxMessage.objects.filter(partner=request.partner).select_related("partner")
    return json_response(sms_json(_one(messages, message_sid=message_sid)))


def _dids(request: HttpRequest) -> QuerySet[SandboxDid]:
    return SandboxDid.objects.filter(partner=request.partner).select_related("partner", "did_group")


@csrf_exempt
@carrier_api("GET", "POST")
def dids(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return numbers_views.rent(request)
    return json_response(
        list_response_body(request, _dids(request), fields=DID_FIELDS, serialize=did_json)
    )


@csrf_exempt
@carrier_api("GET", "PATCH", "DELETE")
def did(request: HttpRequest, did_sid: str) -> HttpResponse:
    number = _one(_dids(request), did_sid=did_sid)
    if request.method == "DELETE":
        return numbers_views.release(number)
    if request.method == "PATCH":
        number = did_update(did=number, changes=json_object(request))
    return json_response(did_json(number))


def _did_groups(request: HttpRequest) -> QuerySet[SandboxDidGroup]:
    return SandboxDidGroup.objects.filter(partner=request.partner).select_related("partner")


@csrf_exempt
@carrier_api("GET")
def did_groups(request: HttpRequest) -> HttpResponse:
    return json_response(
        list_response_body(
            request, _did_groups(request), fields=DID_GROUP_FIELDS, serialize=did_group_json
        )
    )


@csrf_exempt
@carrier_api("GET", "PATCH")
def did_group(request: HttpRequest, did_group_sid: str) -> HttpResponse:
    group = _one(_did_groups(request), did_group_sid=did_group_sid)
    if request.method == "PATCH":
        group = did_group_update(group=group, changes=json_object(request))
    return json_response(did_group_json(group))


def _partners(request: HttpRequest) -> QuerySet[SandboxPartner]:
    # A token sees its own partner only; the sandbox has no sub-partners.
    return SandboxPartner.objects.filter(pk=request.partner.pk)


@csrf_exempt
@carrier_api("GET")
def partners(request: HttpRequest) -> HttpResponse:
    return json_response(
        list_response_body(
            request, _partners(request), fields=PARTNER_FIELDS, serialize=partner_json
        )
    )


@csrf_exempt
@carrier_api("GET", "PATCH")
def partner(request: HttpRequest, partner_sid: str) -> HttpResponse:
    """GET or PATCH the partner. PATCH merges `callbacks` and, as a sandbox-only extension,
    takes `field_naming` ("legacy": SMS objects carry from_did/to_did; "current": from/to)."""
    account = _one(_partners(request), partner_sid=partner_sid)
    if request.method == "PATCH":
        account = partner_update(partner=account, changes=json_object(request))
    return json_response(partner_json(account))
