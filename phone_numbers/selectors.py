"""Reads of the local cache: where each DID's SMS callbacks go, the audit, how fresh the copy is.

Nothing here calls the carrier: pages read only this, so a slow or dead carrier never slows a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from phone_numbers.models import CallbackChange, Did, DidGroup, Partner, SyncRun, SyncStatus


def portal_webhook_url() -> str:
    """The URL at which the carrier reaches this portal's webhook. It holds the secret: show it
    only to people who may change callbacks."""
    return settings.PUBLIC_URL + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])


class EffectiveCallback(NamedTuple):
    url: str
    # "DID", "Group", "Partner" or "none": which setting the carrier takes the URL from.
    source: str
    reaches_portal: bool


def partners_by_sid() -> dict[str, Partner]:
    return {p.partner_sid: p for p in Partner.objects.all()}


def did_partner(did: Did, *, partners: Mapping[str, Partner] | None = None) -> Partner | None:
    """The partner (account) that rents the DID, as the carrier names it on the DID; for a DID
    cached before we kept that name, the account itself when there is only one."""
    if partners is None:
        partners = partners_by_sid()
    if did.partner_sid:
        return partners.get(did.partner_sid)
    return next(iter(partners.values())) if len(partners) == 1 else None


def partner_current() -> Partner | None:
    """The account whose callbacks Global Settings edits: the partner that rents our DIDs (the
    carrier's partner list may also hold sub-partners), else the first one the carrier listed."""
    sid = (
        Did.objects.exclude(partner_sid="")
        .values("partner_sid")
        .annotate(dids=Count("pk"))
        .order_by("-dids")
        .values_list("partner_sid", flat=True)
        .first()
    )
    partner = Partner.objects.filter(partner_sid=sid).first() if sid else None
    return partner or Partner.objects.order_by("pk").first()


def effective_callback(
    did: Did, *, partners: Mapping[str, Partner] | None = None
) -> EffectiveCallback:
    """The SMS callback URL the carrier calls for this DID: the first non-empty of the DID's
    own `callback_url`, its DID Group's `callback_url`, the partner's `callbacks.sms`.

    The only place that rule lives in the portal: the list, the number page and the warnings all
    ask here. Pass `partners` (by SID) when resolving many DIDs, to read them once.
    """
    partner = did_partner(did, partners=partners)
    candidates = [
        ("DID", did.callback_url),
        ("Group", did.group.callback_url if did.group else ""),
        ("Partner", partner.sms_callback_url if partner else ""),
    ]
    source, url = next(((s, u) for s, u in candidates if u), ("none", ""))
    return EffectiveCallback(url=url, source=source, reaches_portal=url == portal_webhook_url())


def callbacks_astray() -> list[tuple[Did, EffectiveCallback]]:
    """Our SMS numbers whose texts and status reports the carrier sends somewhere else (or
    nowhere). Voice-only numbers are left out: the carrier sends them no SMS callbacks."""
    partners = partners_by_sid()
    resolved = (
        (did, effective_callback(did, partners=partners))
        for did in Did.objects.texting().select_related("group")
    )
    return [(did, effective) for did, effective in resolved if not effective.reaches_portal]


def partner_dids_without_own_callback(partner: Partner) -> int:
    """SMS numbers that take the partner's callback: no URL of their own nor from their group.
    What clearing the partner's callback would cut off."""
    partners = partners_by_sid()
    return sum(
        effective_callback(did, partners=partners).source == "Partner"
        and did_partner(did, partners=partners) == partner
        for did in Did.objects.texting().select_related("group")
    )


def sync_status() -> SyncStatus | None:
    """How the last re-read of the carrier went (None: never tried)."""
    return SyncStatus.objects.filter(pk=SyncStatus.ROW).first()


def numbers_last_sync() -> SyncRun | None:
    return SyncRun.objects.order_by("-finished_at").first()


def callback_history(
    *, did: Did | None = None, group: DidGroup | None = None, partner: Partner | None = None
) -> QuerySet[CallbackChange]:
    """Audit rows about a DID, its group and its partner (whichever are given), newest first."""
    query = Q(pk__in=[])
    if did is not None:
        query |= Q(object_kind=CallbackChange.Kind.DID, object_sid=did.did_sid)
    if group is not None:
        query |= Q(object_kind=CallbackChange.Kind.GROUP, object_sid=group.did_group_sid)
    if partner is not None:
        query |= Q(object_kind=CallbackChange.Kind.PARTNER, object_sid=partner.partner_sid)
    return CallbackChange.objects.filter(query).select_related("user")


def send_refusal(our_number: str, *, media: bool = False) -> str | None:
    """Why a text (with pictures or files when `media`) cannot go out from our number, said before
    the carrier is asked; None when our copy knows nothing against it (the carrier still has the
    last word)."""
    did = Did.objects.filter(phonenumber=our_number).first()
    if did is None:
        return None
    if did.released:
        return f"Not sent: {did.formatted} was released, so it can no longer send."
    if not did.can_send_sms:
        state = f" (enablement {did.messaging_status})" if did.messaging_status else ""
        return (
            f"Not sent: SMS is not enabled on {did.formatted}{state}. A Number admin can enable it "
            "under Phone Numbers → the number → SMS Enablement."
        )
    if media and not did.can_send_mms:
        return f"Not sent: {mms_refusal(did.formatted)}"
    return None


def mms_refusal(number: str) -> str:
    """Why pictures or files cannot go out from our number: the form's words and the send's."""
    return (
        f"{number} cannot send pictures or files (MMS is not enabled on it). Pick another From "
        "DID, or send the text alone."
    )
