"""Which of our DIDs a person may send from, and which one is preselected for them."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from messaging.models import SenderProfile
from messaging.selectors import did_limit
from phone_numbers.models import Did


@dataclass(frozen=True)
class SenderDids:
    dids: list[Did]
    default: str | None  # the user's default DID, when it is one they may use

    @property
    def numbers(self) -> set[str]:
        return {d.phonenumber for d in self.dids}


def sender_dids(request: HttpRequest) -> SenderDids:
    """Our SMS DIDs the signed-in user may send from — all of them unless an admin limited the
    user — and their default. Read from the local DID cache only: the carrier is never called
    during a page load (the background re-read fills the cache; phone_numbers/tasks.py)."""
    profile = SenderProfile.objects.filter(user=request.user).select_related("default_did").first()
    dids = Did.objects.sms_capable()
    # The same limit every page that shows messages applies (messaging/selectors.py).
    limit = did_limit(request.user) if profile is not None else None
    if limit is not None:
        dids = dids.filter(phonenumber__in=limit)
    dids = list(dids)
    default = profile.default_did if profile is not None else None
    return SenderDids(dids=dids, default=default.phonenumber if default in dids else None)
