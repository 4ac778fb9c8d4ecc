"""Renting and releasing numbers at the sandbox carrier (CARRIERX-MORE.md §1), and the filters
of the inventory (`available_dids`, `coverage`). The choices the carrier's docs leave open are
written down in sandbox/README.md.
"""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db import transaction
from django.db.models import ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from sandbox.api import ApiError, validation_error
from sandbox.listing import Field, Special, integer
from sandbox.models import SandboxDid, SandboxPartner
from sandbox.sms import NUMBER
from sandbox.updates import did_update

# `phonenumber nearby latlng:…` keeps numbers within this distance, nearest first.
NEARBY_RADIUS_KM = 100
KM_PER_DEGREE = 111.2

INVENTORY_FIELDS = {
    "did_sid": Field("did_sid"),
    "phonenumber": Field("phonenumber"),
    "country_code": Field("country_code"),
    "state": Field("state"),
    "locality": Field("locality"),
    "npa": Field("npa"),
    "npa_nxx": Field("npa_nxx"),
    "capabilities": Field("capabilities", integer, bits=True),
    "price": Field("price"),
}


def aging_days() -> float:
    return getattr(settings, "SANDBOX_AGING_DAYS", 90)


def rentable() -> Q:
    """In the inventory, or released longer ago than the aging period."""
    cutoff = timezone.now() - dt.timedelta(days=aging_days())
    return Q(status=SandboxDid.Status.AVAILABLE, partner__isnull=True) | Q(
        status=SandboxDid.Status.AGING, released_at__lte=cutoff
    )


def inventory() -> QuerySet[SandboxDid]:
    """The numbers anyone may rent now, with the pseudo-attributes `npa` and `npa_nxx` (NANP:
    the three and six digits after the country code 1)."""
    return SandboxDid.objects.filter(rentable()).annotate(
        npa=Substr("phonenumber", 2, 3), npa_nxx=Substr("phonenumber", 2, 6)
    )


def _nearby(queryset: QuerySet, raw: str | None) -> QuerySet:
    """`latlng:<latitude>,<longitude>`: numbers within NEARBY_RADIUS_KM, nearest first (distance
    on a flat map scaled by the latitude's cosine: plenty for a few hundred kilometres)."""
    kind, _, point = (raw or "").partition(":")
    try:
        lat_text, lng_text = point.split(",")
        lat, lng = float(lat_text), float(lng_text)
    except ValueError:
        lat = lng = math.nan
    if kind != "latlng" or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ApiError(
            400,
            "invalid filter",
            [("filter", "use `phonenumber nearby latlng:<latitude>,<longitude>`")],
        )
    scale = math.cos(math.radians(lat))
    d_lat = F("latitude") - lat
    d_lng = (F("longitude") - lng) * scale
    radius = (NEARBY_RADIUS_KM / KM_PER_DEGREE) ** 2
    return (
        queryset.filter(latitude__isnull=False, longitude__isnull=False)
        .alias(
            nearby_distance=ExpressionWrapper(
                d_lat * d_lat + d_lng * d_lng, output_field=FloatField()
            )
        )
        .filter(nearby_distance__lte=radius)
        .order_by("nearby_distance", "pk")
    )


INVENTORY_SPECIAL: Special = {("phonenumber", "nearby"): _nearby}


def _reset(did: SandboxDid) -> None:
    """What a number carries between partners: nothing of the last one."""
    did.name = "N/A"
    did.callback_url = None
    did.attributes = {}
    did.did_group = None
    did.string_key_1 = did.string_key_2 = None
    did.active_capabilities = did.capabilities & SandboxDid.VOICE
    did.messaging_enabled = False
    did.messaging_status = SandboxDid.Messaging.DISABLED
    did.messaging_type = did.campaign_sid = did.p2p_nnid = did.messaging_reason = None
    did.messaging_revision += 1


def _claim(did: SandboxDid, partner: SandboxPartner) -> bool:
    """Assign the number if it is still rentable: one conditional UPDATE, so of two concurrent
    rents of one number exactly one wins, on every database."""
    claimed = SandboxDid.objects.filter(rentable(), pk=did.pk).update(
        partner=partner, status=SandboxDid.Status.ASSIGNED
    )
    if claimed:
        did.partner_id = partner.pk
    return bool(claimed)


@transaction.atomic
def did_rent(*, partner: SandboxPartner, body: dict, candidates: QuerySet) -> SandboxDid:
    """Rent `body["phonenumber"]`, or without it the first of `candidates` (the inventory after
    the request's `filter`), to the partner; the rest of `body` is set as a PATCH would set it.

    A number that is rented or aging is a 409; one the sandbox never had, or an empty inventory,
    is a 422. On any refusal nothing changes.
    """
    number = body.get("phonenumber")
    if number is not None:
        if not isinstance(number, str) or not NUMBER.fullmatch(number):
            raise validation_error(
                [("phonenumber", "must be 10 to 15 digits, E.164 without '+' (e.g. 15162065575)")]
            )
        did = SandboxDid.objects.select_for_update().filter(phonenumber=number).first()
        if did is None:
            raise validation_error([("phonenumber", f"{number} is not in the inventory")])
        if not SandboxDid.objects.filter(rentable(), pk=did.pk).exists():
            state = "aging after its release" if did.status == "aging" else "rented"
            raise ApiError(
                409,
                "conflict",
                [("phonenumber", f"{number} is not available: it is {state}")],
            )
    else:
        ordered = candidates.order_by(*(candidates.query.order_by or ["pk"]))
        did = ordered.select_for_update(skip_locked=True).first()
        # Without row locks (SQLite), another rent may have claimed it first: take the next.
        while did is not None and not _claim(did, partner):
            did = ordered.first()
        if did is None:
            raise validation_error([(None, "no available phone number matches")])
    if did.partner_id != partner.pk and not _claim(did, partner):
        raise ApiError(409, "conflict", [("phonenumber", f"{did.phonenumber} was just rented")])
    _reset(did)
    did.partner = partner
    did.status = SandboxDid.Status.ASSIGNED
    did.released_at = None
    did.save()
    rest = {key: value for key, value in body.items() if key != "phonenumber"}
    return did_update(did=did, changes=rest) if rest else did


@transaction.atomic
def did_release(*, did: SandboxDid) -> None:
    """Give the number back: it ages (not rentable, gone from the partner's list) for
    SANDBOX_AGING_DAYS, then returns to the inventory. Pending enablement steps are void."""
    did = SandboxDid.objects.select_for_update().get(pk=did.pk)
    _reset(did)
    did.partner = None
    did.status = SandboxDid.Status.AGING
    did.released_at = timezone.now()
    did.save()
