"""Message detail records (CARRIERX-MORE.md §5) and number lookup (§6), as the sandbox answers them.

A detail record is a `SandboxMessage` seen from the billing side: it has its own `dr_sid`, is
inserted with the message and follows it (final status, `date_stop`, price). The carrier documents
no list of `vendor_error_code`s; the sandbox's own, with what they mean, are `ERROR_CODES`
(sandbox/README.md lists them too). Lookup answers from a fixed table (`carrier_of`), so a test can
know what a number is before asking.
"""

from __future__ import annotations

import re
from decimal import Decimal

import phonenumbers
from phonenumbers import geocoder

from sandbox.models import SandboxDid, SandboxMessage
from sandbox.serializers import decimal_string, iso

# vendor_error_code → what it means. Only failed records carry one.
LANDLINE = "4001"
UNDELIVERED = "4002"
MMS_MEDIA_NOT_SENT = "4003"
MMS_MEDIA_NOT_RECEIVED = "4004"
ERROR_CODES = {
    LANDLINE: "The destination is a landline: it cannot receive texts.",
    UNDELIVERED: "The handset's network did not deliver it (switched off or out of coverage).",
    MMS_MEDIA_NOT_SENT: "A media file of the MMS could not be fetched, or broke the MMS limits.",
    MMS_MEDIA_NOT_RECEIVED: "A media file of the inbound MMS could not be fetched.",
}

PROVIDER = "tsg"  # as in the carrier's sample record


def error_reason(code: str | None) -> str | None:
    return ERROR_CODES.get(code or "")


def _billing_and_external(message: SandboxMessage) -> tuple[str, str]:
    """The subscriber's number and the other party's, as the carrier names them."""
    if message.direction == SandboxMessage.Direction.OUTBOUND:
        return message.from_number, message.to_number
    return message.to_number, message.from_number


def rate(message: SandboxMessage) -> Decimal:
    if message.type == SandboxMessage.Type.MMS:
        return SandboxMessage.PRICE_PER_MMS
    return SandboxMessage.PRICE_PER_SEGMENT


def delay_sent(message: SandboxMessage) -> int | None:
    if message.date_sent is None:
        return None
    return max(0, int((message.date_sent - message.date_created).total_seconds()))


def mdr_json(message: SandboxMessage) -> dict:
    """The detail record, with the keys of the carrier's sample (§5.2), plus `error_message` on a
    failed one: what its `vendor_error_code` means, or the sandbox's own words for it (a key the
    carrier's record does not list; the SMS object carries it the same way)."""
    billing, external = _billing_and_external(message)
    text = message.message
    if message.type == SandboxMessage.Type.MMS and not text:
        text = None
    failed = message.status == SandboxMessage.Status.FAILED
    extra = {}
    if failed:
        extra["error_message"] = message.error_message or error_reason(message.vendor_error_code)
    price = message.price if message.price is not None else None
    return extra | {
        "a2p_campaign": None,
        "date_changed": iso(message.date_changed),
        "date_insert": iso(message.date_created),
        "date_sent": iso(message.date_sent),
        "date_start": iso(message.date_created),
        "date_stop": iso(message.date_stop),
        "delay_sent": delay_sent(message),
        "direction": message.direction,
        "dr_sid": message.dr_sid,
        "mcc": message.mcc,
        "mcc_mnc_price": decimal_string(price),
        "mcc_mnc_rate": decimal_string(rate(message)),
        "media_urls": list(message.media_urls),
        "message": text,
        "message_segments": message.message_segments,
        "mnc": message.mnc,
        "number_billing": billing,
        "number_dst": message.to_number,
        "number_external": external,
        "number_group_dst": list(message.group_recipients),
        "number_src": message.from_number,
        "p2p_nnid": None,
        "partner_sid": message.partner.partner_sid,
        "passthrough_price": None,
        "passthrough_rate": None,
        "price": decimal_string(price),
        "provider": PROVIDER,
        "rate": decimal_string(rate(message)),
        "registration_type": None,
        "status": message.status,
        "type": message.type,
        "user_data": message.user_data,
        "vendor_error_code": message.vendor_error_code,
        "version": None,
    }


# --- lookup --------------------------------------------------------------------------------------

# ISO 3166 alpha-3 of the regions the sandbox's numbers and handsets come from; others: null.
ALPHA3 = {"US": "USA", "CA": "CAN", "GB": "GBR", "MX": "MEX", "PR": "PRI", "DE": "DEU", "FR": "FRA"}
OWN_CARRIER = {"mcc": "310", "mnc": "999", "name": "CARRIERX SANDBOX", "type": "voip"}
LANDLINE_CARRIER = {"mcc": "310", "mnc": "000", "name": "SANDBOX BELL", "type": "landline"}
VOIP_CARRIER = {"mcc": "310", "mnc": "998", "name": "SANDBOX VOIP", "type": "voip"}
MOBILE_CARRIER = {"mcc": "310", "mnc": "999", "name": "SANDBOX WIRELESS", "type": "mobile"}


class NotANumber(ValueError):
    pass


def carrier_of(number: str) -> dict:
    """The sandbox's fixed answer to `carrier=true`, first rule that matches:
    a number the sandbox has (any of its DIDs) → voip, CARRIERX SANDBOX;
    ending in 00 → landline; ending in 99 → voip; anything else → mobile (the network the
    sandbox's SMS objects name: mcc 310, mnc 999)."""
    if SandboxDid.objects.filter(phonenumber=number).exists():
        return dict(OWN_CARRIER)
    if number.endswith("00"):
        return dict(LANDLINE_CARRIER)
    if number.endswith("99"):
        return dict(VOIP_CARRIER)
    return dict(MOBILE_CARRIER)


def is_landline(number: str) -> bool:
    return carrier_of(number)["type"] == "landline"


def parse_lookup_number(raw: str) -> phonenumbers.PhoneNumber:
    """The number in the path: digits and `+` read, anything else ignored (as the carrier says).
    Without `+`, ten digits are a North American number, more are E.164 digits."""
    kept = re.sub(r"[^0-9+]", "", raw)
    digits = kept.replace("+", "")
    if not digits.isascii() or not 7 <= len(digits) <= 15:
        raise NotANumber(f"{raw!r} is not a phone number: it must have 7 to 15 digits")
    if not kept.startswith("+") and len(digits) == 10:
        digits = "1" + digits
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException as err:
        raise NotANumber(f"{raw!r} is not a phone number: {err}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise NotANumber(f"{raw!r} is not a possible phone number in any country")
    return parsed


# The state of a North American number, from the geocoder's "New York, NY" or "California".
_STATE_CODES = (
    "Alabama:AL Alaska:AK Arizona:AZ Arkansas:AR California:CA Colorado:CO Connecticut:CT "
    "Delaware:DE Florida:FL Georgia:GA Hawaii:HI Idaho:ID Illinois:IL Indiana:IN Iowa:IA "
    "Kansas:KS Kentucky:KY Louisiana:LA Maine:ME Maryland:MD Massachusetts:MA Michigan:MI "
    "Minnesota:MN Mississippi:MS Missouri:MO Montana:MT Nebraska:NE Nevada:NV New_Hampshire:NH "
    "New_Jersey:NJ New_Mexico:NM New_York:NY North_Carolina:NC North_Dakota:ND Ohio:OH "
    "Oklahoma:OK Oregon:OR Pennsylvania:PA Rhode_Island:RI South_Carolina:SC South_Dakota:SD "
    "Tennessee:TN Texas:TX Utah:UT Vermont:VT Virginia:VA Washington:WA West_Virginia:WV "
    "Wisconsin:WI Wyoming:WY Washington_D.C.:DC"
)
US_STATES = {
    name.replace("_", " "): code
    for name, code in (pair.split(":") for pair in _STATE_CODES.split())
}


def _state(parsed: phonenumbers.PhoneNumber) -> str | None:
    if parsed.country_code != 1:
        return None
    where = geocoder.description_for_number(parsed, "en")
    _, _, last = where.rpartition(", ")
    if len(last) == 2 and last.isupper():
        return last
    return US_STATES.get(where)


def lookup_json(parsed: phonenumbers.PhoneNumber, *, carrier: bool) -> dict:
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    return {
        "country_code": ALPHA3.get(region or ""),
        "details": {
            "carrier": carrier_of(e164[1:]) if carrier else None,
            "cnam": None,
            "lrn": None,
        },
        "e164_format": e164,
        "in_country_format": phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.NATIONAL
        ),
        "international_format": phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
        "phonenumber": e164[1:],
        "state": _state(parsed),
    }
