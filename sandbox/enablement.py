"""SMS/MMS messaging enablement of a DID (CARRIERX-MORE.md §3): the Messaging Enablement object,
`POST /phonenumber/dids/{did_sid}/messaging` (enable or disable), and the background step that
finishes the request SANDBOX_ENABLEMENT_SECONDS later and tells the partner at its
`callbacks.phonenumber_messaging_update`. The choices the docs leave open are in
sandbox/README.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sandbox.api import ApiError, validation_error
from sandbox.models import SandboxDid
from sandbox.serializers import did_json
from sandbox.tasks import post_callback

logger = logging.getLogger(__name__)

Messaging = SandboxDid.Messaging
# A campaign SID starting with this is one the (sandbox's) Campaign Registry rejects.
REJECTED_PREFIX = "rejected-"
MAX_TEXT = 200
WRITABLE = {"enabled", "type", "campaign_sid", "p2p_nnid"}
READ_ONLY = {"campaign_external_id", "did_sid", "status", "status_reason"}


def enablement_delay() -> float:
    return getattr(settings, "SANDBOX_ENABLEMENT_SECONDS", 3.0)


def texts(did: SandboxDid) -> bool:
    """Whether the number could ever text; a voice-only DID has no enablement (404)."""
    return bool(did.capabilities & SandboxDid.MESSAGING)


def campaign_external_id(campaign_sid: str | None) -> str | None:
    """The Campaign Registry's ID for a campaign (`CVN1LXI`-like), the same for the same SID."""
    if not campaign_sid:
        return None
    number = int(hashlib.sha256(campaign_sid.encode()).hexdigest(), 16)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "C" + "".join(alphabet[(number >> (6 * i)) % 36] for i in range(6))


def messaging_json(did: SandboxDid) -> dict:
    """The Messaging Enablement object; `status_reason` is the sandbox's own (why `failed`)."""
    enabled_a2p = did.messaging_status == Messaging.ENABLED and did.messaging_type == "a2p"
    return {
        "campaign_external_id": campaign_external_id(did.campaign_sid) if enabled_a2p else None,
        "campaign_sid": did.campaign_sid,
        "did_sid": did.did_sid,
        "enabled": did.messaging_enabled,
        "p2p_nnid": did.p2p_nnid,
        "status": did.messaging_status,
        "status_reason": did.messaging_reason,
        "type": did.messaging_type,
    }


def _optional_text(errors: list, body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT):
        errors.append((key, f"must be text of 1 to {MAX_TEXT} characters, or null"))
        return None
    return value


def _validated(body: dict) -> tuple[bool, str, str | None, str | None]:
    errors: list[tuple[str | None, str]] = []
    for key in sorted(body.keys() - WRITABLE - READ_ONLY):
        errors.append((key, "is not a field of this object"))
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        errors.append(("enabled", "is required: true or false"))
    kind = body.get("type")
    if kind is None:
        kind = "a2p"  # the partner default: partners are enabled for a2p only
    elif kind not in ("a2p", "p2p"):
        errors.append(("type", "must be 'a2p' or 'p2p'"))
    campaign = _optional_text(errors, body, "campaign_sid")
    nnid = _optional_text(errors, body, "p2p_nnid")
    if campaign is not None and kind == "p2p":
        errors.append(("campaign_sid", "applies only to type a2p"))
    if nnid is not None and kind == "a2p":
        errors.append(("p2p_nnid", "applies only to type p2p"))
    if errors:
        raise validation_error(errors)
    return enabled, kind, campaign, nnid


@transaction.atomic
def messaging_update(*, did: SandboxDid, body: dict, force: bool) -> SandboxDid:
    """Apply a `POST …/messaging` body: start enabling or disabling (`in_progress`), or nothing
    when the DID is already where the body asks. Changing type or campaign of enabled messaging
    needs `?force=true` (else 409: disable first, as the carrier's two-step process has it)."""
    enabled, kind, campaign, nnid = _validated(body)
    did = SandboxDid.objects.select_for_update().get(pk=did.pk)
    busy = did.messaging_status in (Messaging.IN_PROGRESS, Messaging.ENABLED)
    if enabled:
        same = (did.messaging_type, did.campaign_sid, did.p2p_nnid) == (kind, campaign, nnid)
        if did.messaging_enabled and busy and same:
            return did
        if did.messaging_enabled and busy and not force:
            raise ApiError(
                409,
                "conflict",
                [
                    (
                        None,
                        "messaging is enabled with other settings: disable it first, "
                        "or POST with ?force=true",
                    )
                ],
            )
        did.messaging_type, did.campaign_sid, did.p2p_nnid = kind, campaign, nnid
    else:
        if not did.messaging_enabled and did.messaging_status == Messaging.DISABLED:
            return did
        # Texting stops the moment disabling is asked for, not when the carrier is done.
        did.active_capabilities = did.capabilities & SandboxDid.VOICE
    did.messaging_enabled = enabled
    did.messaging_status = Messaging.IN_PROGRESS
    did.messaging_reason = None
    did.messaging_revision += 1
    did.save()
    revision = did.messaging_revision
    transaction.on_commit(lambda: _schedule(did.did_sid, revision))
    return did


def _schedule(did_sid: str, revision: int) -> None:
    # Always a run_after, even for no delay: django-tasks-db orders due tasks by it and puts tasks
    # without one last, where a client's own re-read, re-enqueued at once, could starve this step.
    run_after = timezone.now() + dt.timedelta(seconds=max(0, enablement_delay()))
    finish_enablement.using(run_after=run_after).enqueue(did_sid, revision)


@task()
def finish_enablement(did_sid: str, revision: int) -> None:
    """`in_progress` → `enabled` (all the number's capabilities active), `failed` (a rejected
    campaign; only voice stays active) or `disabled`; then the partner's callback. A step for an
    older request (revision moved on: asked again, or released) does nothing."""
    with transaction.atomic():
        did = (
            SandboxDid.objects.select_for_update()
            .filter(
                did_sid=did_sid, messaging_revision=revision, messaging_status=Messaging.IN_PROGRESS
            )
            .first()
        )
        if did is None or did.partner_id is None:
            logger.info("sandbox: enablement step %s/%s is stale; nothing to do", did_sid, revision)
            return
        voice = did.capabilities & SandboxDid.VOICE
        if not did.messaging_enabled:
            did.messaging_status, did.active_capabilities = Messaging.DISABLED, voice
        elif (did.campaign_sid or "").startswith(REJECTED_PREFIX):
            did.messaging_status, did.active_capabilities = Messaging.FAILED, voice
            did.messaging_reason = (
                f"campaign {did.campaign_sid} was rejected by the Campaign Registry"
            )
        else:
            did.messaging_status, did.active_capabilities = Messaging.ENABLED, did.capabilities
        did.save(update_fields=["messaging_status", "active_capabilities", "messaging_reason"])
        partner = did.partner
    url = (partner.callbacks or {}).get("phonenumber_messaging_update")
    if url:
        post_callback(url, messaging_json(did), event="phonenumber_messaging_update")
    else:
        logger.info("sandbox: no phonenumber_messaging_update callback; none fired")


@task()
def announce_order(did_sid: str) -> None:
    """The `phonenumber_order` callback for a rent made with `include_external=true`: the DID
    object, as the partner now has it."""
    did = SandboxDid.objects.select_related("partner", "did_group").filter(did_sid=did_sid).first()
    if did is None or did.partner is None:
        return
    url = (did.partner.callbacks or {}).get("phonenumber_order")
    if url:
        post_callback(url, did_json(did), event="phonenumber_order")
