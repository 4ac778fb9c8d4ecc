"""Re-reading the carrier into the local cache, and keeping the record of how that went.

Only the background task, `manage.py numbers_sync` and the Sync buttons call the carrier here;
pages read the cache and `SyncStatus` (phone_numbers/selectors.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.consent import every_did_opt_outs_extend
from phone_numbers.models import Did, DidGroup, Partner, SyncRun, SyncStatus
from phone_numbers.selectors import callbacks_astray
from portal.carrierx import CarrierXError, get_client


@dataclass(frozen=True)
class SyncResult:
    dids: int
    groups: int


def numbers_sync() -> SyncResult:
    """Re-read the partner, its DID groups and every rented DID (all pages) from the carrier.

    Everything is fetched before anything is written, so a carrier error half-way leaves the local
    cache as it was. Numbers the carrier no longer lists are dropped: we no longer rent them.
    Every attempt is recorded in `SyncStatus`; a failed one keeps the carrier's reason there and
    raises CarrierXError.
    """
    _status_update(last_attempt_at=timezone.now(), attempts=F("attempts") + 1)
    client = get_client()
    try:
        partners = list(client.list_partners())
        groups = list(client.list_did_groups())
        dids = list(client.list_dids())
    except CarrierXError as err:
        _status_update(last_error=str(err) or "no answer", failures=F("failures") + 1)
        raise
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
        removed, _ = Did.objects.rented().exclude(did_sid__in=[d["did_sid"] for d in dids]).delete()
        finished = timezone.now()
        SyncRun.objects.create(
            finished_at=finished, dids=len(dids), groups=len(groups), removed=removed
        )
        _status_update(
            last_success_at=finished,
            last_error="",
            failures=0,
            callbacks_astray=len(callbacks_astray()),
        )

    return SyncResult(dids=len(dids), groups=len(groups))


def did_store(
    data: dict, *, groups_by_sid: dict[str, DidGroup] | None = None, synced_at=None
) -> Did:
    """Mirror one DID object as the carrier returned it."""
    group_sid = data.get("did_group_sid")
    if groups_by_sid is not None:
        group = groups_by_sid.get(group_sid) if group_sid else None
    else:
        group = DidGroup.objects.filter(did_group_sid=group_sid).first() if group_sid else None
    did, created = Did.objects.update_or_create(
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
    if created and did.phonenumber:
        every_did_opt_outs_extend(did.phonenumber)
    return did


def callbacks_astray_recount() -> None:
    """Count again the SMS numbers whose callback is not this portal, after a change we made (the
    banner reads the stored count, so it must follow every change, not only full syncs)."""
    _status_update(callbacks_astray=len(callbacks_astray()))


def _status_update(**fields) -> None:
    SyncStatus.objects.get_or_create(pk=SyncStatus.ROW)
    SyncStatus.objects.filter(pk=SyncStatus.ROW).update(**fields)
