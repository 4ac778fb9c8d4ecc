"""What every signed-in page says about the carrier's state: how old our copy is, whether the last
re-read failed, and — for number admins — whether some SMS number's callback has gone astray."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import cached_property

from phone_numbers.models import SyncStatus
from phone_numbers.selectors import sync_status
from portal.permissions import CHANGE_CALLBACKS


class CarrierState:
    """Read lazily: fragments (inbox polls, htmx panels) never touch it, so they pay nothing; a
    full page pays one read of one row."""

    def __init__(self, user) -> None:
        self._user = user

    @cached_property
    def status(self) -> SyncStatus | None:
        return sync_status()

    @cached_property
    def astray(self) -> int:
        """SMS numbers whose callback is not this portal, shown only to those who can fix it."""
        if self.status is None or not self._user.has_perm(CHANGE_CALLBACKS):
            return 0
        return self.status.callbacks_astray


def carrier_state(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"carrier": CarrierState(user)}
