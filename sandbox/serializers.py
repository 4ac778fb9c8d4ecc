"""The sandbox's objects as the carrier writes them (CARRIERX.md §3, §4, §5): ISO-8601 UTC times
with milliseconds and `Z`, E.164 digits without `+`, prices as decimal strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sandbox.models import SandboxDid, SandboxDidGroup, SandboxMessage, SandboxPartner

# Fixed metadata every sandbox DID shares; the sandbox has no classification or LNP data of its own.
DID_CLASSIFICATION_SID = "17f4d954-d635-4cda-912b-c2a2fa3a6860"


def iso(value: dt.datetime | None) -> str | None:
    """`2023-12-06T15:18:29.189Z`"""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def decimal_string(value: Decimal | None) -> str | None:
    """`Decimal("0.01500")` → `"0.015"` (never exponent notation)."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def sms_json(message: SandboxMessage) -> dict:
    """The SMS object; `from`/`to` are named after the partner's field naming.

    An MMS without text has `message: null`, as in the carrier's sample. A message the sandbox
    failed for a reason of its own (media it could not fetch) carries it as `error_message`, a
    key the carrier's SMS object table does not list (it is cut off there), and only then.
    """
    if message.partner.field_naming == SandboxPartner.FieldNaming.CURRENT:
        from_key, to_key = "from", "to"
    else:
        from_key, to_key = "from_did", "to_did"
    text = message.message
    if message.type == SandboxMessage.Type.MMS and not text:
        text = None
    extra = {"error_message": message.error_message} if message.error_message else {}
    return extra | {
        "date_changed": iso(message.date_changed),
        "date_created": iso(message.date_created),
        "date_status_changed": iso(message.date_status_changed),
        "direction": message.direction,
        from_key: message.from_number,
        "group_recipients": list(message.group_recipients),
        "mcc": message.mcc,
        "media_urls": list(message.media_urls),
        "message": text,
        "message_segments": message.message_segments,
        "message_sid": message.message_sid,
        "mnc": message.mnc,
        "partner_sid": message.partner.partner_sid,
        "price": decimal_string(message.price),
        "status": message.status,
        to_key: message.to_number,
        "type": message.type,
        "user_data": message.user_data,
    }


def did_json(did: SandboxDid) -> dict:
    return {
        "active_capabilities": did.active_capabilities,
        "attributes": did.attributes,
        "callback_url": did.callback_url,
        # The campaign in force: only while a2p messaging is enabled.
        "campaign_sid": did.campaign_sid
        if did.messaging_status == SandboxDid.Messaging.ENABLED and did.messaging_type == "a2p"
        else None,
        "capabilities": did.capabilities,
        "classification_sid": DID_CLASSIFICATION_SID,
        "country_code": did.country_code,
        "did_group_sid": did.did_group.did_group_sid if did.did_group else None,
        "did_sid": did.did_sid,
        "in_country_format": did.in_country_format,
        "international_format": did.international_format,
        "lata": None,
        "locality": did.locality,
        "lrn_sid": None,
        "name": did.name,
        "ocn": None,
        "partner_sid": did.partner.partner_sid if did.partner else None,
        "phonenumber": did.phonenumber,
        "porting_pin": None,
        "price": did.price,
        "state": did.state,
        "status": did.status,
        "string_key_1": did.string_key_1,
        "string_key_2": did.string_key_2,
        "transformations": [],
        "trunk_group_sid": None,
    }


def did_group_json(group: SandboxDidGroup) -> dict:
    return {
        "callback_url": group.callback_url,
        "did_group_sid": group.did_group_sid,
        "name": group.name,
        "partner_sid": group.partner.partner_sid,
    }


def partner_json(partner: SandboxPartner) -> dict:
    """The Partner object, plus `field_naming`, a sandbox-only key (see `partner_update`)."""
    return {
        "acls": [],
        "attributes": {},
        "balance": format(partner.balance, "f"),
        "callbacks": partner.callbacks,
        "company_name": partner.company_name,
        "country_code": "USA",
        "date_created": iso(partner.date_created),
        "display_id": partner.display_id,
        "field_naming": partner.field_naming,
        "login": partner.login,
        "name": partner.name,
        "parent_sid": None,
        "partner_sid": partner.partner_sid,
        "payment_type": "prepay",
        "status": partner.status,
        "transformations": [],
    }
