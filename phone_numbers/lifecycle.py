"""Renting, releasing and renaming numbers at the carrier, each audited as a `NumberChange`.

Every change is recorded before the carrier is called and completed after. When the carrier does
not answer (a timeout, a dropped connection, a 5xx) it may still have acted, so the outcome is
settled by reading the carrier again: a number is shown as rented only when the carrier lists it as
ours, and as released only when the carrier no longer does.
"""

from __future__ import annotations

import json

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from phone_numbers.models import Did, NumberChange
from phone_numbers.services import ChangeNotMade
from phone_numbers.sync import callbacks_astray_recount, did_store
from phone_numbers.tasks import numbers_sync_soon
from portal.audit import signed_in
from portal.carrierx import CarrierXError, get_client
from portal.phones import format_number

Outcome = NumberChange.Outcome


def change_start(
    *,
    user: AbstractBaseUser | None,
    action: str,
    asked: dict,
    did_sid: str = "",
    phonenumber: str = "",
) -> NumberChange:
    """Record what is about to be asked of the carrier, before asking."""
    actor = signed_in(user)
    return NumberChange.objects.create(
        user=actor,
        username=actor.get_username() if actor else "",
        action=action,
        did_sid=did_sid,
        phonenumber=phonenumber,
        asked=json.dumps(asked, sort_keys=True),
    )


def change_end(change: NumberChange, *, outcome: str, answer: str, did_sid: str = "") -> None:
    change.outcome = outcome
    change.carrier_answer = answer
    fields = ["outcome", "carrier_answer"]
    if did_sid:
        change.did_sid = did_sid
        fields.append("did_sid")
    change.save(update_fields=fields)


def _may_have_acted(err: CarrierXError) -> bool:
    """No answer, or a server error: the carrier may have done it anyway; re-read to know."""
    return err.reached_carrier and (err.status is None or err.status >= 500)


# --- Rent ----------------------------------------------------------------------------------------


def _rented_at_carrier(phonenumber: str) -> dict | None:
    """Our DID object for `phonenumber` if the carrier lists it among our numbers."""
    return next((d for d in get_client().list_dids() if d.get("phonenumber") == phonenumber), None)


def number_rent(*, phonenumber: str, user: AbstractBaseUser | None, callback_url: str = "") -> Did:
    """Rent `phonenumber` (with its SMS callback set to `callback_url` when given) and add it to the
    local list. Raises ChangeNotMade with the reason when the carrier did not rent it."""
    asked = {"phonenumber": phonenumber, **({"callback_url": callback_url} if callback_url else {})}
    change = change_start(
        user=user, action=NumberChange.Action.RENT, asked=asked, phonenumber=phonenumber
    )
    shown = format_number(phonenumber)
    try:
        answer = get_client().rent_did(phonenumber=phonenumber, callback_url=callback_url or None)
    except CarrierXError as err:
        if not _may_have_acted(err):
            change_end(change, outcome=Outcome.REFUSED, answer=str(err))
            raise ChangeNotMade(f"CarrierX did not rent {shown}: {err.message}") from err
        answer = _rent_settle(change, err, shown)
    with transaction.atomic():
        did = did_store(answer)
        Did.objects.filter(pk=did.pk).update(released_at=None)
        did.released_at = None
        change_end(
            change,
            outcome=Outcome.ACCEPTED,
            answer=change.carrier_answer or f"rented (status {answer.get('status') or '?'})",
            did_sid=did.did_sid,
        )
        callbacks_astray_recount()
    return did


def _rent_settle(change: NumberChange, err: CarrierXError, shown: str) -> dict:
    """The carrier gave no clear answer to a rent: read our numbers to see whether it rented."""
    try:
        answer = _rented_at_carrier(change.phonenumber)
    except CarrierXError as again:
        change_end(
            change,
            outcome=Outcome.UNKNOWN,
            answer=f"{err}; re-reading our numbers failed too: {again}",
        )
        numbers_sync_soon()
        raise ChangeNotMade(
            f"CarrierX did not answer ({err.message}) and could not be read again, so we cannot "
            f"tell whether {shown} was rented. It is not in the list; the next sync will add it if "
            "the carrier did rent it."
        ) from err
    if answer is None:
        change_end(
            change, outcome=Outcome.REFUSED, answer=f"{err}; re-reading: not among our numbers"
        )
        raise ChangeNotMade(
            f"CarrierX did not answer ({err.message}); reading our numbers again shows {shown} was "
            "not rented. Nothing changed; you can try again."
        ) from err
    change.carrier_answer = f"{err}; re-reading: rented (status {answer.get('status') or '?'})"
    return answer


# --- Release -------------------------------------------------------------------------------------


def _still_ours(did_sid: str) -> bool:
    try:
        answer = get_client().get_did(did_sid)
    except CarrierXError as err:
        if err.status == 404:
            return False
        raise
    return answer.get("status") not in ("aging", "available")


def number_release(*, did: Did, user: AbstractBaseUser | None) -> Did:
    """Give the number back to the carrier (it keeps it aging) and mark it released here: gone
    from the pickers, its messages kept. Raises ChangeNotMade when the carrier still has it ours."""
    change = change_start(
        user=user,
        action=NumberChange.Action.RELEASE,
        asked={"did_sid": did.did_sid},
        did_sid=did.did_sid,
        phonenumber=did.phonenumber,
    )
    answer = "released (204)"
    try:
        get_client().release_did(did.did_sid)
    except CarrierXError as err:
        if err.status == 404:
            answer = f"{err}: the carrier no longer has it as ours"
        elif not _may_have_acted(err):
            change_end(change, outcome=Outcome.REFUSED, answer=str(err))
            raise ChangeNotMade(f"CarrierX did not release {did.formatted}: {err.message}") from err
        else:
            answer = _release_settle(change, err, did)
    with transaction.atomic():
        Did.objects.filter(pk=did.pk).update(released_at=timezone.now())
        did.refresh_from_db()
        change_end(change, outcome=Outcome.ACCEPTED, answer=answer)
        callbacks_astray_recount()
    return did


def _release_settle(change: NumberChange, err: CarrierXError, did: Did) -> str:
    try:
        ours = _still_ours(did.did_sid)
    except CarrierXError as again:
        change_end(
            change, outcome=Outcome.UNKNOWN, answer=f"{err}; re-reading the number failed: {again}"
        )
        numbers_sync_soon()
        raise ChangeNotMade(
            f"CarrierX did not answer ({err.message}) and could not be read again, so we cannot "
            f"tell whether {did.formatted} was released. It stays in the list until the carrier "
            "says otherwise; try again."
        ) from err
    if ours:
        change_end(change, outcome=Outcome.REFUSED, answer=f"{err}; re-reading: still ours")
        raise ChangeNotMade(
            f"CarrierX did not answer ({err.message}); reading the number again shows it is still "
            "ours. Nothing changed; you can try again."
        ) from err
    return f"{err}; re-reading: no longer ours"


# --- Rename --------------------------------------------------------------------------------------


def number_rename(*, did: Did, name: str, user: AbstractBaseUser | None) -> Did:
    change = change_start(
        user=user,
        action=NumberChange.Action.RENAME,
        asked={"name": name, "was": did.name},
        did_sid=did.did_sid,
        phonenumber=did.phonenumber,
    )
    try:
        answer = get_client().rename_did(did.did_sid, name)
    except CarrierXError as err:
        change_end(change, outcome=Outcome.REFUSED, answer=str(err))
        raise ChangeNotMade(f"CarrierX did not rename {did.formatted}: {err.message}") from err
    with transaction.atomic():
        did = did_store(answer)
        change_end(change, outcome=Outcome.ACCEPTED, answer=f"name is {answer.get('name')!r}")
    return did
