"""The simulated handset: the other end of the partner's conversations. Texting a DID sets off the
portal's callbacks and auto-replies, so only signed-in staff or a script with the sandbox's token
may use it (sandbox.api.staff_or_token)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from sandbox.api import (
    ApiError,
    api_partner,
    json_object,
    json_response,
    staff_or_token,
    unstorable,
)
from sandbox.faults import faults_current, faults_summary
from sandbox.media import ALLOWED_TYPES, LIMIT_TEXT, MAX_FILES
from sandbox.models import SandboxDid, SandboxMedia, SandboxMessage, SandboxPartner
from sandbox.serializers import sms_json
from sandbox.sms import digits_only, sms_receive

# The customer's phone in the carrier's send-and-receive tutorial.
DEFAULT_HANDSET = "15162065574"
THREAD_LENGTH = 50
# The API's field names, as the handset form labels them.
FORM_LABELS = {"from": "Handset", "to": "Our DID", "message": "Message", "media": "Attach"}
# What the file picker offers: the types an MMS carries (sandbox/media.py).
MEDIA_ACCEPT = ",".join(sorted(ALLOWED_TYPES))

NOT_SEEDED = ApiError(409, "sandbox not seeded", [(None, "run manage.py sandbox_seed first")])


def multipart_form(request: HttpRequest) -> tuple[dict, list[UploadedFile]]:
    """A multipart body as the fields `sms_receive` reads, and its `media` files. Repeated
    `group_recipients` fields, or one with numbers separated by commas, make the group."""
    try:
        fields, uploads = request.POST, request.FILES.getlist("media")
    except (MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as err:
        raise ApiError(400, "bad request", [(None, f"unreadable form: {err}")]) from None
    body: dict = {key: fields.get(key) for key in ("from", "to", "from_did", "to_did", "message")}
    body = {key: value for key, value in body.items() if value is not None}
    group = [
        number.strip()
        for value in fields.getlist("group_recipients")
        for number in value.split(",")
        if number.strip()
    ]
    if group:
        body["group_recipients"] = group
    if problem := unstorable(body):
        raise problem
    return body, uploads


@csrf_exempt
@staff_or_token()
@require_POST
def simulate_inbound(request: HttpRequest) -> HttpResponse:
    """`{"from": handset, "to": our DID, "message": ...}` → a text arrives on our DID and the
    sandbox fires its callback, as the carrier does for a text from a real phone.

    MMS: JSON with `media_urls` (fetched first) and `group_recipients`, or multipart/form-data
    with the fields `from`, `to`, `message` (and `group_recipients`) and files in `media`."""
    partner = api_partner()
    try:
        if partner is None:
            raise NOT_SEEDED
        if request.content_type == "multipart/form-data":
            body, uploads = multipart_form(request)
        else:
            body, uploads = json_object(request), []
        message = sms_receive(partner=partner, body=body, uploads=uploads)
    except ApiError as err:
        return err.response()
    return json_response(sms_json(message))


def thread(partner: SandboxPartner, handset: str) -> list[SandboxMessage]:
    """The latest messages between the handset and any of the partner's DIDs, oldest first."""
    messages: QuerySet[SandboxMessage] = (
        SandboxMessage.objects.filter(partner=partner)
        .filter(
            Q(direction=SandboxMessage.Direction.INBOUND, from_number=handset)
            | Q(direction=SandboxMessage.Direction.OUTBOUND, to_number=handset)
        )
        # The files' bytes stay in the database; the page links to them.
        .prefetch_related(Prefetch("media", queryset=SandboxMedia.objects.defer("data")))
    )
    return list(reversed(messages.order_by("-date_created", "-pk")[:THREAD_LENGTH]))


def known_handsets(partner: SandboxPartner) -> list[str]:
    """The tutorial's handset, then every other number that has texted or been texted."""
    messages = SandboxMessage.objects.filter(partner=partner)
    inbound = messages.filter(direction=SandboxMessage.Direction.INBOUND).values_list(
        "from_number", flat=True
    )
    outbound = messages.filter(direction=SandboxMessage.Direction.OUTBOUND).values_list(
        "to_number", flat=True
    )
    others = set(inbound.distinct()) | set(outbound.distinct())
    return [DEFAULT_HANDSET, *sorted(others - {DEFAULT_HANDSET})]


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def thread_cursor(messages: list[SandboxMessage]) -> dict[str, int]:
    """Where the page's thread stands: the newest message it shows and the latest change."""
    return {
        "after": max((message.pk for message in messages), default=0),
        "changed": max((_micros(message.date_changed) for message in messages), default=0),
    }


def _cursor_value(source: QueryDict, name: str) -> int:
    value = source.get(name, "")
    return int(value) if value.isascii() and value.isdigit() else 0


def thread_update(request: HttpRequest, partner: SandboxPartner | None, handset: str) -> dict:
    """What a poll adds to the page: the messages newer than its cursor (appended to the live
    region, so only they are announced) and the new status of the ones it already shows."""
    after = _cursor_value(request.GET, "after")
    changed = _cursor_value(request.GET, "changed")
    messages = thread(partner, handset) if partner else []
    return {
        "new_messages": [message for message in messages if message.pk > after],
        "changed_messages": [
            message
            for message in messages
            if message.pk <= after and _micros(message.date_changed) > changed
        ],
        # The page said "no messages yet" while its cursor was at the start.
        "first_messages": after == 0 and any(message.pk > after for message in messages),
        "cursor": thread_cursor(messages),
    }


@staff_or_token(page=True)
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def phone(request: HttpRequest) -> HttpResponse:
    partner = api_partner()
    source = request.POST if request.method == "POST" else request.GET
    typed_handset = source.get("handset", "").strip()
    handset = digits_only(typed_handset) or DEFAULT_HANDSET
    if request.htmx and request.method == "GET" and "after" in request.GET:
        context = {"handset": handset, "did": source.get("did", "")}
        context |= thread_update(request, partner, handset)
        return render(request, "sandbox/phone.html#thread-update", context)
    dids = [did for did in partner.dids.all() if did.can(SandboxDid.RECEIVE_SMS)] if partner else []
    did = source.get("did") or (dids[0].phonenumber if dids else "")
    context = {
        "partner": partner,
        "api_url": settings.CARRIERX_API_URL,
        "token": settings.CARRIERX_TOKEN,
        "dids": dids,
        "handset": handset,
        "handset_input": handset,
        "known_handsets": known_handsets(partner) if partner else [DEFAULT_HANDSET],
        "did": did,
        "text": "",
        "errors": [],
        "faults": faults_summary(faults_current()),
        "media_accept": MEDIA_ACCEPT,
        "media_limits": f"up to {MAX_FILES} files, {LIMIT_TEXT} in all",
    }

    if request.method == "POST":
        try:
            if partner is None:
                raise NOT_SEEDED
            sms_receive(
                partner=partner,
                body={"from": typed_handset, "to": did, "message": source.get("message", "")},
                uploads=request.FILES.getlist("media"),
            )
        except ApiError as err:
            context["errors"] = [
                f"{FORM_LABELS.get(field, field)}: {text}" if field else text
                for field, text in err.errors
            ]
            context["handset_input"] = typed_handset
            context["text"] = source.get("message", "")
        else:
            if not request.htmx:
                query = urlencode({"handset": handset, "did": did})
                return redirect(f"{reverse('sandbox:phone')}?{query}")

    context["thread"] = thread(partner, handset) if partner else []
    context["cursor"] = thread_cursor(context["thread"])
    template = "sandbox/phone.html"
    if request.htmx:
        # A send swaps the form and thread (the form keeps its errors); a poll without a cursor
        # (an older page) swaps the thread.
        template += "#handset" if request.method == "POST" else "#thread"
    return render(request, template, context)
