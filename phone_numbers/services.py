"""Everything that reads or changes our numbers at the carrier, and mirrors it locally.

Changes go to the carrier first; our cache is written only from the carrier's answer, so it never
shows a value CarrierX does not hold. Every attempt is audited as a `CallbackChange`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from phone_numbers.models import CallbackChange, Did, DidGroup, Partner, SyncRun
from portal.carrierx import CarrierXClient, CarrierXError, get_client

T = TypeVar("T")


@dataclass(frozen=True)
class SyncResult:
    dids: int
    groups: int
    removed: int


def numbers_sync(*, client: CarrierXClient | None = None) -> SyncResult:
    """Re-read the partner, its DID groups and every rented DID (all pages) from the carrier.

    Everything is fetched before anything is written, so a carrier error half-way leaves the local
    cache as it was. Numbers the carrier no longer lists are dropped: we no longer rent them.
    """
    client = client or get_client()
    partners = list(client.list_partners())
    groups = list(client.list_did_groups())
    dids = list(client.list_dids())
    now = timezone.now()

    with transaction.atomic():
        for p in partners:
            Partner.objects.update_or_create(
                partner_sid=p["partner_sid"],
                defaults={
                    "name": p.get("name") or "",
                    "callbacks": p.get("callbacks") or {},
                    "synced_at": now,
                },
            )
        Partner.objects.exclude(partner_sid__in=[p["partner_sid"] for p in partners]).delete()

        groups_by_sid = {}
        for g in groups:
            group, _ = DidGroup.objects.update_or_create(
                did_group_sid=g["did_group_sid"],
                defaults={
                    "name": g.get("name") or "",
                    "callback_url": g.get("callback_url") or "",
                    "synced_at": now,
                },
            )
            groups_by_sid[group.did_group_sid] = group
        DidGroup.objects.exclude(did_group_sid__in=groups_by_sid).delete()

        for d in dids:
            did_store(d, groups_by_sid=groups_by_sid, synced_at=now)
        removed, _ = Did.objects.exclude(did_sid__in=[d["did_sid"] for d in dids]).delete()
        SyncRun.objects.create(
            finished_at=timezone.now(), dids=len(dids), groups=len(groups), removed=removed
        )

    return SyncResult(dids=len(dids), groups=len(groups), removed=removed)


def numbers_sync_if_empty() -> str | None:
    """A fresh install has an empty cache: read the carrier once instead of showing nothing.
    Returns what went wrong, for the page to say, or None."""
    if Did.objects.exists() or numbers_last_sync() is not None:
        return None
    try:
        numbers_sync()
    except CarrierXError as err:
        return f"Could not read our numbers from CarrierX: {err}"
    return None


def did_store(
    data: dict, *, groups_by_sid: dict[str, DidGroup] | None = None, synced_at=None
) -> Did:
    """Mirror one DID object as the carrier returned it."""
    group_sid = data.get("did_group_sid")
    if groups_by_sid is not None:
        group = groups_by_sid.get(group_sid) if group_sid else None
    else:
        group = DidGroup.objects.filter(did_group_sid=group_sid).first() if group_sid else None
    did, _ = Did.objects.update_or_create(
        did_sid=data["did_sid"],
        defaults={
            "phonenumber": data.get("phonenumber") or "",
            "name": data.get("name") or "",
            "capabilities": data.get("capabilities") or 0,
            "active_capabilities": data.get("active_capabilities") or 0,
            "callback_url": data.get("callback_url") or "",
            "partner_sid": data.get("partner_sid") or "",
            "group": group,
            "raw": data,
            "synced_at": synced_at or timezone.now(),
        },
    )
    return did


def numbers_last_sync() -> SyncRun | None:
    return SyncRun.objects.order_by("-finished_at").first()


# --- Where callbacks go ------------------------------------------------------------------------


def portal_webhook_url() -> str:
    """The URL at which the carrier reaches this portal's webhook. It holds the secret: show it
    only to people who may change callbacks."""
    return settings.PUBLIC_URL + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])


class EffectiveCallback(NamedTuple):
    url: str
    # "DID", "Group", "Partner" or "none": which setting the carrier takes the URL from.
    source: str
    reaches_portal: bool


def did_partner(did: Did, *, partners: Mapping[str, Partner] | None = None) -> Partner | None:
    """The partner (account) that rents the DID, as the carrier names it on the DID; for a DID
    cached before we kept that name, the account itself when there is only one."""
    if partners is None:
        partners = {p.partner_sid: p for p in Partner.objects.all()}
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


# --- Changing callbacks and groups -------------------------------------------------------------


class ChangeNotMade(Exception):
    """The carrier did not take a change (it refused, failed or did not answer). The message says
    why, in words for the person who asked; our cache still holds the old value."""


def _failure_text(err: CarrierXError, what: str) -> str:
    if err.status is None:
        # No answer at all ("did not answer in time", "unreachable"): the carrier's state is
        # unknown to us, so our cache keeps what we last knew.
        return f"{err.message}; the {what} was not changed."
    if not err.permanent:
        return f"CarrierX could not take the change ({err}); the {what} was not changed."
    return f"CarrierX refused the change: {err.message}"


def _audit_start(
    *,
    user: AbstractBaseUser | None,
    kind: str,
    sid: str,
    label: str,
    field: str,
    old: str,
    new: str,
) -> CallbackChange:
    """Record the attempt before the carrier is called, so a crash still shows that we tried."""
    signed_in = user if user is not None and user.is_authenticated else None
    return CallbackChange.objects.create(
        user=signed_in,
        username=signed_in.get_username() if signed_in else "",
        object_kind=kind,
        object_sid=sid,
        label=label,
        field=field,
        old_value=old,
        new_value=new,
    )


def _audit_refusal(change: CallbackChange, err: CarrierXError, what: str) -> ChangeNotMade:
    change.carrier_answer = str(err)
    change.save(update_fields=["carrier_answer", "old_value"])
    return ChangeNotMade(_failure_text(err, what))


def _audit_accepted(change: CallbackChange) -> None:
    change.carrier_answer = CallbackChange.ACCEPTED
    change.save(update_fields=["carrier_answer", "old_value"])


def _carry_out(
    change: CallbackChange, *, what: str, call: Callable[[], dict], store: Callable[[dict], T]
) -> T:
    """Make an audited change at the carrier: store its answer and mark the change accepted, or
    keep the carrier's reason on the audit row and raise ChangeNotMade (nothing stored)."""
    try:
        answer = call()
    except CarrierXError as err:
        raise _audit_refusal(change, err, what) from err
    with transaction.atomic():
        result = store(answer)
        _audit_accepted(change)
    return result


def _group_label(group: DidGroup | None) -> str:
    return f"{group.name} ({group.did_group_sid})" if group else ""


def did_set_callback(*, did: Did, url: str, user: AbstractBaseUser | None) -> Did:
    """Set (or, with an empty `url`, clear) the DID's own SMS callback URL."""
    change = _audit_start(
        user=user,
        kind=CallbackChange.Kind.DID,
        sid=did.did_sid,
        label=did.formatted,
        field="callback_url",
        old=did.callback_url,
        new=url,
    )
    return _carry_out(
        change,
        what="callback URL",
        call=lambda: get_client().update_did(did.did_sid, {"callback_url": url or None}),
        store=did_store,
    )


def did_set_group(*, did: Did, group: DidGroup | None, user: AbstractBaseUser | None) -> Did:
    """Move the DID into `group`, or out of any group with None."""
    change = _audit_start(
        user=user,
        kind=CallbackChange.Kind.DID,
        sid=did.did_sid,
        label=did.formatted,
        field="did_group_sid",
        old=_group_label(did.group),
        new=_group_label(group),
    )
    group_sid = group.did_group_sid if group else None
    return _carry_out(
        change,
        what="DID group",
        call=lambda: get_client().update_did(did.did_sid, {"did_group_sid": group_sid}),
        store=did_store,
    )


def group_set_callback(*, group: DidGroup, url: str, user: AbstractBaseUser | None) -> DidGroup:
    """Set (or clear) the DID Group's callback URL, used by its DIDs that have none of their own."""
    change = _audit_start(
        user=user,
        kind=CallbackChange.Kind.GROUP,
        sid=group.did_group_sid,
        label=group.name,
        field="callback_url",
        old=group.callback_url,
        new=url,
    )

    def store(answer: dict) -> DidGroup:
        group.callback_url = answer.get("callback_url") or ""
        group.name = answer.get("name") or group.name
        group.save(update_fields=["callback_url", "name"])
        return group

    return _carry_out(
        change,
        what="callback URL",
        call=lambda: get_client().update_did_group(
            group.did_group_sid, {"callback_url": url or None}
        ),
        store=store,
    )


def partner_set_sms_callback(
    *, partner: Partner, url: str, user: AbstractBaseUser | None
) -> Partner:
    """Set (or clear) the partner's `callbacks.sms`, the URL of last resort for every DID.

    The carrier's docs leave open whether a PATCH of `callbacks` merges or replaces the map, so we
    read the current map from the carrier and send all of it back with only `sms` changed: the
    other callback kinds (orders, conferences, ...) survive either way.
    """
    change = _audit_start(
        user=user,
        kind=CallbackChange.Kind.PARTNER,
        sid=partner.partner_sid,
        label=str(partner),
        field="callbacks.sms",
        old=partner.sms_callback_url,
        new=url,
    )

    def call() -> dict:
        client = get_client()
        current = client.get_partner(partner.partner_sid).get("callbacks") or {}
        # What the carrier held just now is the true "old", whatever our cache said.
        change.old_value = current.get("sms") or ""
        # An explicit null clears it under either semantics; leaving the key out would not.
        callbacks = {**current, "sms": url or None}
        return client.update_partner(partner.partner_sid, {"callbacks": callbacks})

    def store(answer: dict) -> Partner:
        partner.callbacks = answer.get("callbacks") or {}
        partner.name = answer.get("name") or partner.name
        partner.save(update_fields=["callbacks", "name"])
        return partner

    return _carry_out(change, what="callback URL", call=call, store=store)


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
