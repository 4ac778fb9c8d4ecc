"""The carrier's bodies → typed, bounded values: the webhook's one gate. Nothing the carrier (or
anyone holding the webhook URL) sends reaches the database unchecked: numbers become the E.164
digits CarrierX writes, identifiers bounded strings, money and counts values the columns hold on
every backend, dates strict and storable, text free of what PostgreSQL or the drivers refuse.

A bad value either makes the body unusable (`Rejected`: the webhook answers 4xx, so the carrier
stops retrying): no JSON object; a `message_sid`, `status`, `date_status_changed`, `price` or
`message_segments` of the wrong type or out of range; for a message we do not know yet, numbers
or a direction we cannot use (a row without them would break every page that lists it). Or it is
dropped with its reason recorded: `mcc`/`mnc` (informational), a `message` or `user_data` that is
not a string, an MMS's `type`, `media_urls` or `group_recipients` that cannot be used, numbers on
a message we already hold (never changed after creation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.conf import settings
from django.utils.dateparse import parse_datetime

from portal.storable import storable

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32  # carrier bodies nest 2 deep; json's own limit (RecursionError) is far higher
MAX_SID = 64  # Message.message_sid / CarrierEvent.message_sid
MAX_STATUS = 40  # CarrierEvent.status
# Message.price is DecimalField(max_digits=10, decimal_places=5): five digits before the point.
PRICE_PLACES = Decimal("0.00001")
PRICE_DIGITS = 5  # whole digits Message.price holds
PRICE_LIMIT = Decimal(10) ** PRICE_DIGITS
MAX_COUNT = 2**31 - 1  # PositiveIntegerField: the smallest integer column of all backends
# Digits past which a count is out of range without reading it (every maximum is far below).
COUNT_DIGITS = 12
MAX_NETWORK_CODE = 999  # MCC and MNC are at most three digits (ITU-T E.212)
# Dates the carrier could have meant, and that every time zone can display without overflow.
FIRST_YEAR, LAST_YEAR = 1970, 9998
DIRECTIONS = ("inbound", "outbound")
KINDS = ("sms", "mms")
# The carrier allows 10 files and 10 group participants; a little slack for what it may add.
MAX_MEDIA_URLS = 20
MAX_GROUP = 20
MAX_URL = 2000

_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_NUMBER = re.compile(r"\+?[0-9][0-9 ().\-]{1,30}")


class Invalid(ValueError):
    """One value that cannot be used; the message is the reason."""


class Rejected(Exception):
    """A body that can never succeed: answer `status` with `reason`, keep the bytes."""

    def __init__(self, reason: str, *, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = storable(reason)
        self.status = status


@dataclass
class Callback:
    """One SMS callback, every value typed and bounded, keyed as the carrier names them (`from`
    and `to` filled from either naming; None where absent or dropped)."""

    sms: dict
    dropped: list[str] = field(default_factory=list)
    # Why a message could not be created from this body ("" when it could).
    creation_problem: str = ""


def _show(value: object) -> str:
    # Reasons quote the value, bounded and escaped (repr of a huge int would itself raise).
    if isinstance(value, str):
        return repr(value[:24]) + ("…" if len(value) > 24 else "")
    if value is None or isinstance(value, bool | float | Decimal) and len(str(value)) < 24:
        return json.dumps(value) if not isinstance(value, Decimal) else str(value)
    if isinstance(value, int) and value.bit_length() < 64:
        return str(value)
    return f"a {'JSON ' + type(value).__name__ if isinstance(value, list | dict) else 'number'}"


def bounded_text(value: object, *, limit: int) -> str:
    """An identifier or status: a string of at most `limit` characters, no control characters."""
    if not isinstance(value, str):
        raise Invalid(f"must be a string, not {_show(value)}")
    text = value.strip()
    if len(text) > limit:
        raise Invalid(f"longer than {limit} characters")
    if _CONTROL.search(text):
        raise Invalid(f"{_show(text)} holds control characters or lone surrogates")
    return text


def carrier_number(value: object) -> str:
    """A phone number as CarrierX writes it: E.164 digits without `+` (`15162065575`), or a
    short code of 3–8 digits. `+1 (555) 010-9999` → `15550109999`; anything else is Invalid."""
    if not isinstance(value, str):
        raise Invalid(f"must be a string, not {_show(value)}")
    text = value.strip()
    if text.isascii() and text.isdigit():
        if 3 <= len(text) <= 8:
            return text
        if len(text) == 11 and text[0] == "1":
            return text  # the common case, +1 and ten digits: always a possible NANP number
    # Only the characters people write numbers with: phonenumbers alone would also take letters
    # (vanity numbers) and pick digits out of text such as `1555/0109999`.
    if not _NUMBER.fullmatch(text):
        raise Invalid(f"{_show(value)} is not a phone number")
    # Bare international digits as the carrier writes them; shorter ones as dialled locally.
    candidate = "+" + text if text.isdigit() and len(text) > 10 else text
    try:
        parsed = phonenumbers.parse(candidate, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise Invalid(f"{_show(value)} is not a phone number") from None
    # Possible, not valid: the carrier is the authority on which numbers exist (and test
    # numbers such as 555 ones are not "valid").
    if not phonenumbers.is_possible_number(parsed):
        raise Invalid(f"{_show(value)} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def price(value: object) -> Decimal | None:
    """A decimal string or number that Message.price holds, rounded to its five places."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise Invalid(f"must be a decimal, not {_show(value)}")
    if isinstance(value, str) and len(value) > 40:
        raise Invalid("longer than 40 characters")
    try:
        amount = Decimal(str(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        raise Invalid(f"{_show(value)} is not a decimal") from None
    if not amount.is_finite():
        raise Invalid(f"{_show(value)} is not a finite amount")
    # By its exponent first: arithmetic on 1E+1000000 overflows the decimal context. Then
    # rounded: 99999.999996 rounds to 100000.00000, which no longer fits.
    too_big = amount and amount.adjusted() >= PRICE_DIGITS
    if too_big or abs(amount := amount.quantize(PRICE_PLACES)) >= PRICE_LIMIT:
        raise Invalid(f"{_show(value)} is out of range (under {PRICE_LIMIT})")
    return amount


def count(value: object, *, maximum: int = MAX_COUNT) -> int | None:
    """A whole number from 0 to `maximum`, as a JSON integer or a string of digits."""
    if value is None or value == "":
        return None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip()) if len(value.strip()) <= COUNT_DIGITS else maximum + 1
    elif isinstance(value, Decimal) and value.is_finite():
        if value.adjusted() >= COUNT_DIGITS:
            # Far out of range (1E+1000000): to_integral_value() would overflow the context.
            number = maximum + 1
        elif value == value.to_integral_value():
            number = int(value) if abs(value) <= maximum + 1 else maximum + 1
    if number is None:
        raise Invalid(f"must be a whole number, not {_show(value)}")
    if not 0 <= number <= maximum:
        raise Invalid(f"{_show(value)} is out of range (0 to {maximum})")
    return number


def moment(value: object) -> datetime | None:
    """An ISO 8601 date and time (UTC when it names no offset), strictly parsed."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    elif not isinstance(value, str):
        raise Invalid(f"must be a date string, not {_show(value)}")
    elif len(value) > 40:
        raise Invalid("longer than 40 characters")
    else:
        try:
            when = parse_datetime(value.strip())
        except ValueError:  # well formed but impossible, such as hour 25
            when = None
        if when is None:
            raise Invalid(f"{_show(value)} is not a valid date and time")
    try:
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        raise Invalid(f"{_show(value)} is out of range") from None
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise Invalid(f"{_show(value)} is out of range ({FIRST_YEAR}–{LAST_YEAR})")
    return when


def lenient(clean: Callable[[object], object], value: object) -> object:
    """`clean(value)`, or None when the value cannot be used (for the carrier's API answers,
    where one odd field must not fail a send)."""
    try:
        return clean(value)
    except Invalid:
        return None


def parse_object(raw: bytes) -> dict:
    """The body as a JSON object, or Rejected (400): not UTF-8, not JSON, NaN/Infinity, too
    deep, or not an object."""
    try:
        payload = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise Rejected(
            f"body is not valid JSON: not UTF-8 at byte {err.start}", status=400
        ) from None
    except RecursionError:
        raise Rejected(f"body nests deeper than {MAX_DEPTH} levels", status=400) from None
    except ValueError as err:  # JSONDecodeError, NaN/Infinity, integers of over 4,300 digits
        raise Rejected(f"body is not valid JSON: {err}", status=400) from None
    if not isinstance(payload, dict):
        raise Rejected("body must be a JSON object (the SMS object)", status=400)
    # Only a body with many brackets can be deep: the carrier's own have three.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(payload) > MAX_DEPTH:
        raise Rejected(f"body nests deeper than {MAX_DEPTH} levels", status=400)
    return payload


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


# Built once (json.loads with arguments builds a decoder per call). Floats as Decimal: exact,
# and 1e400 stays finite instead of becoming inf.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant)


def _depth(value: object) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def event_labels(payload: object) -> tuple[str, str]:
    """(message_sid, status) to file a kept body under, when they are clean strings; else ""."""
    if not isinstance(payload, dict):
        return "", ""
    sid = lenient(lambda v: bounded_text(v, limit=MAX_SID), payload.get("message_sid"))
    status = lenient(lambda v: bounded_text(v, limit=MAX_STATUS), payload.get("status"))
    return sid or "", status or ""


def sms_callback(payload: dict) -> Callback | None:
    """The SMS object in `payload`, checked; None when the body is not an SMS object (no
    `message_sid`: the partner's number updates and orders share the URL); Rejected (422) when
    a field it must have cannot be used."""
    if payload.get("message_sid") is None:
        return None
    sms: dict = {}
    for key, clean in _ESSENTIAL:
        try:
            sms[key] = clean(payload.get(key))
        except Invalid as err:
            raise Rejected(f"{key} {err}") from None
    if not sms["message_sid"]:
        raise Rejected("message_sid is empty")
    callback = Callback(sms)
    for key, clean in _INFORMATIONAL:
        try:
            sms[key] = clean(payload.get(key))
        except Invalid as err:
            sms[key] = None
            callback.dropped.append(f"{key} dropped: {err}")
    problems = []
    for key, legacy in (("from", "from_did"), ("to", "to_did")):
        value = payload.get(key)
        name = key if value not in (None, "") else legacy
        try:
            sms[key] = carrier_number(payload.get(name))
        except Invalid as err:
            sms[key] = None
            problems.append(f"{name} {err}")
    direction = payload.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        problems.append(f"direction {_show(direction)} is neither inbound nor outbound")
        direction = None
    sms["direction"] = direction
    callback.creation_problem = "; ".join(problems)
    return callback


def media_urls(value: object) -> list[str]:
    """The files of an MMS: http(s) URLs the download task may fetch (it checks where they lead)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"must be a list, not {_show(value)}")
    if len(value) > MAX_MEDIA_URLS:
        raise Invalid(f"lists {len(value)} files; at most {MAX_MEDIA_URLS} are kept")
    urls = []
    for item in value:
        url = bounded_text(item, limit=MAX_URL)
        if not url.lower().startswith(("http://", "https://")):
            raise Invalid(f"{_show(url)} is not an http(s) URL")
        urls.append(url)
    return urls


def group_recipients(value: object) -> list[str]:
    """The other participants of a group MMS, as carrier numbers."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"must be a list, not {_show(value)}")
    if len(value) > MAX_GROUP:
        raise Invalid(f"lists {len(value)} numbers; a group has at most {MAX_GROUP}")
    return [carrier_number(item) for item in value]


def kind(value: object) -> str | None:
    if value is None:
        return None
    if value not in KINDS:
        raise Invalid(f"{_show(value)} is neither sms nor mms")
    return value


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"must be a string, not {_show(value)}")
    return storable(value)


# Checked in this order; the first unusable one is the reason given.
_ESSENTIAL: tuple[tuple[str, Callable[[object], object]], ...] = (
    ("message_sid", lambda v: bounded_text(v, limit=MAX_SID)),
    ("status", lambda v: bounded_text(v, limit=MAX_STATUS) if v is not None else ""),
    ("date_status_changed", moment),
    ("price", price),
    ("message_segments", count),
)
_INFORMATIONAL: tuple[tuple[str, Callable[[object], object]], ...] = (
    ("mcc", lambda v: count(v, maximum=MAX_NETWORK_CODE)),
    ("mnc", lambda v: count(v, maximum=MAX_NETWORK_CODE)),
    ("message", _text),
    ("user_data", lambda v: _text(v)[:200] or None),
    ("type", kind),
    ("media_urls", media_urls),
    ("group_recipients", group_recipients),
)
