"""The sandbox's starting world: one partner, one DID group, twelve DIDs (more than one carrier
page of 10, so clients must follow `pagination.next`), and the inventory of numbers to rent
(sandbox/inventory.py). The seeded DIDs that text have messaging enabled (a2p), so they send and
receive from the start; all but one (SMS_ONLY_DID) send and receive MMS too. The numbers follow
the carrier's send-and-receive tutorial, except 15162065574, the tutorial's customer handset, which
is not ours.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from sandbox.models import SandboxDid, SandboxDidGroup, SandboxPartner

PARTNER_SID = "e00430c3-a7d0-4666-ab5c-f7202448382f"
# Namespace for the seeded SIDs, so every machine (and every re-seed) has the same ones.
SID_NAMESPACE = uuid.UUID(PARTNER_SID)
SMS_AND_VOICE = SandboxDid.RECEIVE_SMS | SandboxDid.SEND_SMS | SandboxDid.VOICE  # 7
MESSAGING_AND_VOICE = SandboxDid.MESSAGING | SandboxDid.VOICE  # 31: SMS and MMS both ways
VOICE_ONLY = SandboxDid.VOICE  # 4
# The one seeded DID that texts but cannot send (or receive) MMS, an older SMS-only number, so
# the portal has a DID to show "this DID cannot send media" on.
SMS_ONLY_DID = "15162065580"

SUPPORT_GROUP = "Support"
# (phonenumber, name, capabilities, in the Support group)
DIDS = [
    ("15162065575", "Main line", MESSAGING_AND_VOICE, False),  # the tutorial's `from`
    ("15162065318", "Inbound line", MESSAGING_AND_VOICE, False),  # the tutorial's inbound `to_did`
    ("15162065320", "Support 1", MESSAGING_AND_VOICE, True),
    ("15162065321", "Support 2", MESSAGING_AND_VOICE, True),
    ("15162065322", "Support 3", MESSAGING_AND_VOICE, True),
    ("15162065576", "Sales 1", MESSAGING_AND_VOICE, False),
    ("15162065577", "Sales 2", MESSAGING_AND_VOICE, False),
    ("15162065578", "Billing", MESSAGING_AND_VOICE, False),
    ("15162065579", "Marketing", MESSAGING_AND_VOICE, False),
    (SMS_ONLY_DID, "After hours", SMS_AND_VOICE, False),
    ("15162065581", "Front desk (voice)", VOICE_ONLY, False),
    ("15162065582", "Conference bridge", VOICE_ONLY, False),
]


def seeded_sid(kind: str, key: str) -> str:
    return str(uuid.uuid5(SID_NAMESPACE, f"{kind}:{key}"))


@transaction.atomic
def seed(*, sms_callback_url: str | None) -> SandboxPartner:
    """Create the sandbox's partner, DID group and DIDs if missing, and point the partner's SMS
    callback at `sms_callback_url` (None removes it).

    Idempotent: objects that exist are left as they are, so edits made through the API (a DID's
    callback URL, say) survive a re-seed; only `callbacks["sms"]` is brought up to date.
    """
    from sandbox.inventory import inventory_seed

    partner, _ = SandboxPartner.objects.get_or_create(
        partner_sid=PARTNER_SID,
        defaults={
            "name": "Sandbox Partner",
            "display_id": "CX72521509",
            "login": "sandbox",
            "company_name": "Example Co.",
            "balance": "100.00",
            # A second key, so a client that replaces instead of merging shows up at once.
            "callbacks": {"phonenumber_order": "https://example.com/orders"},
        },
    )
    callbacks = dict(partner.callbacks or {})
    if sms_callback_url:
        callbacks["sms"] = sms_callback_url
    else:
        callbacks.pop("sms", None)
    if callbacks != partner.callbacks:
        partner.callbacks = callbacks
        partner.save(update_fields=["callbacks"])

    group, _ = SandboxDidGroup.objects.get_or_create(
        did_group_sid=seeded_sid("did_group", SUPPORT_GROUP),
        defaults={"partner": partner, "name": SUPPORT_GROUP},
    )
    for phonenumber, name, capabilities, in_group in DIDS:
        did, created = SandboxDid.objects.get_or_create(
            phonenumber=phonenumber,
            defaults={
                "did_sid": seeded_sid("did", phonenumber),
                "partner": partner,
                "did_group": group if in_group else None,
                "name": name,
                "capabilities": capabilities,
                "active_capabilities": capabilities,
                "state": "NY",
                "locality": "NEW YORK",
                "latitude": 40.7128,
                "longitude": -74.0060,
                **_messaging(capabilities),
            },
        )
        if not created:
            _bring_capabilities_up_to_date(did, capabilities)
    inventory_seed()
    return partner


def _bring_capabilities_up_to_date(did: SandboxDid, capabilities: int) -> None:
    """A database seeded before MMS has the seeded DIDs at 7: give them the bits they have now.
    Capabilities are the carrier's facts, not the partner's edits, so re-seeding may set them;
    what is active still follows the number's messaging enablement."""
    if did.capabilities == capabilities:
        return
    did.capabilities = capabilities
    enabled = did.messaging_status == SandboxDid.Messaging.ENABLED
    did.active_capabilities = capabilities if enabled else capabilities & SandboxDid.VOICE
    did.save(update_fields=["capabilities", "active_capabilities"])


def _messaging(capabilities: int) -> dict:
    """A seeded DID that can text starts enabled (a2p, no campaign): nothing to enable first."""
    if not capabilities & SandboxDid.MESSAGING:
        return {}
    return {
        "messaging_enabled": True,
        "messaging_status": SandboxDid.Messaging.ENABLED,
        "messaging_type": "a2p",
    }
