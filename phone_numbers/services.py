"""Everything that reads or changes our numbers at the carrier, and mirrors it locally."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from phone_numbers.models import Did, DidGroup, Partner
from portal.carrierx import CarrierXClient, get_client


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

    return SyncResult(dids=len(dids), groups=len(groups), removed=removed)


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
            "group": group,
            "raw": data,
            "synced_at": synced_at or timezone.now(),
        },
    )
    return did
