"""`GET /sms/message_drs[/{dr_sid}]` and `GET /lookup/dids/{phonenumber}` (sandbox/detail_records.py
says what they answer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.api import ApiError, carrier_api, json_response, not_found
from sandbox.detail_records import NotANumber, lookup_json, mdr_json, parse_lookup_number
from sandbox.listing import Field, cursor_list_response_body, integer, timestamp
from sandbox.models import SandboxMessage

MDR_FIELDS = {
    "dr_sid": Field("dr_sid"),
    "date_insert": Field("date_created", timestamp),
    "date_start": Field("date_created", timestamp),
    "date_sent": Field("date_sent", timestamp),
    "date_stop": Field("date_stop", timestamp),
    "date_changed": Field("date_changed", timestamp),
    "direction": Field("direction"),
    "status": Field("status"),
    "type": Field("type"),
    "number_src": Field("from_number"),
    "number_dst": Field("to_number"),
    "user_data": Field("user_data"),
    "message_segments": Field("message_segments", integer),
    "vendor_error_code": Field("vendor_error_code"),
}
BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _records(request: HttpRequest):
    return SandboxMessage.objects.filter(partner=request.partner).select_related("partner")


def _direction(queryset, raw: str | None):
    # `any` is the carrier's both-directions value.
    return queryset if raw == "any" else queryset.filter(direction=raw)


@csrf_exempt
@carrier_api("GET")
def message_drs(request: HttpRequest) -> HttpResponse:
    """Every message the sandbox handled for the partner, oldest inserted first."""
    return json_response(
        cursor_list_response_body(
            request,
            _records(request),
            fields=MDR_FIELDS,
            serialize=mdr_json,
            key="dr_sid",
            when="date_created",
            special={("direction", "eq"): _direction},
        )
    )


@csrf_exempt
@carrier_api("GET")
def message_dr(request: HttpRequest, dr_sid: str) -> HttpResponse:
    record = _records(request).filter(dr_sid=dr_sid).first()
    if record is None:
        raise not_found()
    return json_response(mdr_json(record))


def _flag(request: HttpRequest, name: str) -> bool:
    raw = request.GET.get(name, "false")
    value = BOOLEANS.get(raw.strip().lower())
    if value is None:
        raise ApiError(400, f"invalid {name}", [(name, "must be true or false")])
    return value


@csrf_exempt
@carrier_api("GET")
def lookup_did(request: HttpRequest, phonenumber: str) -> HttpResponse:
    """`carrier=true` fills `details.carrier` from the sandbox's table; `cnam` and `lrn` are read
    (true/false) but the sandbox has no such data: they stay null."""
    carrier = _flag(request, "carrier")
    _flag(request, "cnam")
    _flag(request, "lrn")
    try:
        parsed = parse_lookup_number(phonenumber)
    except NotANumber as err:
        raise ApiError(422, "object validation error", [("phonenumber", str(err))]) from None
    return json_response(lookup_json(parsed, carrier=carrier))
