"""Every change the portal makes to our numbers at the carrier, mirrored locally.

Changes go to the carrier first; our cache is written only from the carrier's answer, so it never
shows a value CarrierX does not hold. Every attempt is audited as a `CallbackChange`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from phone_numbers.forms import validate_callback_url
from phone_numbers.models import CallbackChange, Did, DidGroup, Partner
from phone_numbers.selectors import callbacks_astray, did_partner, partners_by_sid
from phone_numbers.selectors import portal_webhook_url as portal_webhook_url
from phone_numbers.sync import callbacks_astray_recount, did_store
from phone_numbers.sync import numbers_sync as numbers_sync  # where scripts and tests look
from phone_numbers.tasks import numbers_sync_soon
from portal.audit import signed_in
from portal.carrierx import CarrierXError, get_client

T = TypeVar("T")


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
    actor = signed_in(user)
    return CallbackChange.objects.create(
        user=actor,
        username=actor.get_username() if actor else "",
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
        callbacks_astray_recount()
    # Re-read everything soon: the change may have side effects at the carrier we do not mirror.
    numbers_sync_soon()
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
    *,
    partner: Partner,
    url: str,
    user: AbstractBaseUser | None,
    with_number_callbacks: bool = False,
) -> Partner:
    """Set (or clear) the partner's `callbacks.sms`, the URL of last resort for every DID.

    The carrier's docs leave open whether a PATCH of `callbacks` merges or replaces the map, so we
    read the current map from the carrier and send all of it back with only `sms` changed: the
    other callback kinds (orders, conferences, ...) survive either way. `with_number_callbacks`
    (the partner page's *Point at this portal*) sets `phonenumber_messaging_update` and
    `phonenumber_order` to the same URL.
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
        if with_number_callbacks and url:
            # "Point at this portal": the number updates come here too, on the same URL.
            callbacks.update(phonenumber_messaging_update=url, phonenumber_order=url)
        return client.update_partner(partner.partner_sid, {"callbacks": callbacks})

    def store(answer: dict) -> Partner:
        partner.callbacks = answer.get("callbacks") or {}
        partner.name = answer.get("name") or partner.name
        partner.save(update_fields=["callbacks", "name"])
        return partner

    return _carry_out(change, what="callback URL", call=call, store=store)


def callbacks_point_here(*, user: AbstractBaseUser | None) -> list[str]:
    """Make every SMS number's effective callback this portal's webhook again; returns what could
    not be changed (the carrier's reasons), empty when all went through.

    Each number is fixed where the carrier reads its URL from (DID → Group → Partner, first that
    is set). A number that follows the partner is fixed by pointing the partner at us: one call
    mends all of them and touches no number that has a URL of its own. A group's URL is changed
    only when it points elsewhere, which every member following it suffers from anyway. A number
    with its own URL elsewhere gets its own URL changed: changing the group or the partner could
    never reach it, since its own URL wins. Numbers that already reach us are never touched.
    """
    url = portal_webhook_url()
    try:
        validate_callback_url(url)
    except ValidationError as err:
        return [f"This portal's webhook URL {url} cannot be used: {' '.join(err.messages)}"]
    partners = partners_by_sid()
    fix_partners: dict[str, Partner] = {}
    fix_groups: dict[str, DidGroup] = {}
    fix_dids: list[Did] = []
    for did, effective in callbacks_astray():
        partner = did_partner(did, partners=partners)
        if effective.source == "DID" or (effective.source == "none" and partner is None):
            fix_dids.append(did)
        elif effective.source == "Group":
            fix_groups[did.group.did_group_sid] = did.group
        else:
            fix_partners[partner.partner_sid] = partner
    changes: list[Callable[[], object]] = [
        *(
            lambda p=p: partner_set_sms_callback(partner=p, url=url, user=user)
            for p in fix_partners.values()
        ),
        *(lambda g=g: group_set_callback(group=g, url=url, user=user) for g in fix_groups.values()),
        *(lambda d=d: did_set_callback(did=d, url=url, user=user) for d in fix_dids),
    ]
    problems = []
    for change in changes:
        try:
            change()
        except ChangeNotMade as err:
            problems.append(str(err))
    return problems
