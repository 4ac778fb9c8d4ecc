"""SMS enablement of a number: asking the carrier to enable or disable messaging, and following
the answer (`in_progress` → `enabled` | `failed`) into the local DID row that the page polls.

Two things feed that row: the carrier's `phonenumber_messaging_update` callback (through the
webhook, `messaging_update_receive`) and a background re-read of the carrier
(`phone_numbers.tasks.enablement_follow`), so a lost callback never leaves the page stuck.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from phone_numbers.lifecycle import change_end, change_start
from phone_numbers.models import Did, NumberChange
from phone_numbers.services import ChangeNotMade
from portal.carrierx import CarrierXError, get_client

IN_PROGRESS = "in_progress"
ENABLED = "enabled"
FAILED = "failed"
STATUSES = {IN_PROGRESS, ENABLED, "disabled", FAILED}
STUCK_AFTER = timedelta(minutes=15)


def _reason(body: dict) -> str:
    """Why an enablement failed, in the carrier's words when its object carries any."""
    for key in ("reason", "status_reason", "failure_reason", "message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:1000]
    errors = body.get("errors")
    if isinstance(errors, list):
        words = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
        if words:
            return "; ".join(words)[:1000]
    return ""


def messaging_apply(did: Did, body: dict) -> Did:
    """Store the carrier's Messaging Enablement object on the DID row (only known statuses)."""
    status = body.get("status")
    if status not in STATUSES:
        return did
    changes = {
        "messaging_enabled": bool(body.get("enabled")),
        "messaging_status": status,
        "messaging_type": str(body.get("type") or "")[:10],
        "campaign_sid": str(body.get("campaign_sid") or "")[:64],
        "messaging_reason": _reason(body) if status == FAILED else "",
    }
    if status != did.messaging_status:
        changes["messaging_status_at"] = timezone.now()
    Did.objects.filter(pk=did.pk).update(**changes)
    for name, value in changes.items():
        setattr(did, name, value)
    return did


def _asked(enabled: bool, type_: str, campaign_sid: str) -> dict:
    asked: dict = {"enabled": enabled}
    if enabled and type_:
        asked["type"] = type_
    if enabled and campaign_sid:
        asked["campaign_sid"] = campaign_sid
    return asked


def number_messaging_set(
    *,
    did: Did,
    enabled: bool,
    user: AbstractBaseUser | None,
    type_: str = "a2p",
    campaign_sid: str = "",
) -> Did:
    """Ask the carrier to enable (or disable) SMS on the DID; the answer is usually `in_progress`,
    which a background re-read follows to its end. Raises ChangeNotMade with the carrier's
    reason."""
    from phone_numbers.tasks import enablement_follow_soon

    asked = _asked(enabled, type_, campaign_sid)
    change = change_start(
        user=user,
        action=NumberChange.Action.ENABLE if enabled else NumberChange.Action.DISABLE,
        asked=asked,
        did_sid=did.did_sid,
        phonenumber=did.phonenumber,
    )
    client = get_client()
    try:
        answer = client.set_messaging(
            did.did_sid,
            enabled=enabled,
            type=asked.get("type"),
            campaign_sid=asked.get("campaign_sid"),
        )
    except CarrierXError as err:
        outcome = NumberChange.Outcome.REFUSED if err.permanent else NumberChange.Outcome.UNKNOWN
        change_end(change, outcome=outcome, answer=str(err))
        if not err.permanent:
            # It may have been taken: the re-read shows what the carrier holds.
            enablement_follow_soon(did.did_sid)
        verb = "enable" if enabled else "disable"
        raise ChangeNotMade(
            f"CarrierX did not {verb} SMS on {did.formatted}: {err.message}"
        ) from err
    with transaction.atomic():
        messaging_apply(did, answer)
        change_end(
            change, outcome=NumberChange.Outcome.ACCEPTED, answer=f"status {answer.get('status')}"
        )
    enablement_follow_soon(did.did_sid)
    return did


def messaging_refresh(did: Did) -> Did:
    """Re-read the enablement and, once it has settled, the DID (its `active_capabilities`)."""
    from phone_numbers.sync import did_store

    client = get_client()
    messaging_apply(did, client.get_messaging(did.did_sid))
    if did.messaging_status != IN_PROGRESS:
        fresh = did_store(client.get_did(did.did_sid))
        did.active_capabilities = fresh.active_capabilities
        did.capabilities = fresh.capabilities
    return did


def messaging_update_receive(body: dict) -> str:
    """The carrier's `phonenumber_messaging_update` callback (a Messaging Enablement object):
    store it on our DID and re-read the carrier for what it changed. Returns the outcome words
    the webhook keeps with the event."""
    from phone_numbers.tasks import enablement_follow_soon

    did_sid = body.get("did_sid")
    did = Did.objects.filter(did_sid=did_sid).first() if isinstance(did_sid, str) else None
    if did is None:
        return "messaging update for a number we do not have"
    messaging_apply(did, body)
    enablement_follow_soon(did.did_sid)
    return f"messaging {did.messaging_status or 'unknown'} for {did.phonenumber}"


def number_order_receive(body: dict) -> str:
    """The carrier's `phonenumber_order` callback (a DID object): add the rented number."""
    from phone_numbers.sync import did_store

    if body.get("status") != "assigned":
        return "number order not assigned; nothing stored"
    known = Did.objects.filter(phonenumber=body["phonenumber"]).first()
    if known is not None and known.did_sid != body["did_sid"]:
        return "number order for a number we hold under another SID; the next sync settles it"
    limits = {"name": 200, "callback_url": 2048, "partner_sid": 64, "did_group_sid": 64}
    bounded = {**body, **{k: (body.get(k) or "")[:n] for k, n in limits.items()}}
    did = did_store(bounded)
    return f"number order: {did.phonenumber} rented"


def health_problems(did: Did, now=None) -> list[str]:
    """What is wrong with a number, in words for the list's Health column."""
    from phone_numbers.capabilities import in_words

    if did.released:
        return []
    problems = []
    if did.capabilities != did.active_capabilities:
        problems.append(
            f"can {in_words(did.capabilities)}; active: {in_words(did.active_capabilities)}"
        )
    if did.messaging_status == FAILED:
        problems.append(
            "SMS enablement failed" + (f": {did.messaging_reason}" if did.messaging_reason else "")
        )
    stuck_since = did.messaging_status_at
    stuck = stuck_since is not None and (now or timezone.now()) - stuck_since > STUCK_AFTER
    if did.messaging_status == IN_PROGRESS and stuck:
        problems.append("SMS enablement in progress for over 15 minutes")
    return problems
