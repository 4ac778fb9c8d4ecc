"""Which of our DIDs a person may send from, and which one is preselected for them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from messaging.models import SenderProfile
from phone_numbers.models import Did


def sendable_dids(user: AbstractBaseUser) -> list[Did]:
    """Our SMS DIDs this user may send from: all of them unless an admin limited the user."""
    dids = Did.objects.sms_capable()
    profile = SenderProfile.objects.filter(user=user).first() if user.is_authenticated else None
    if profile is not None and profile.allowed_dids.exists():
        dids = dids.filter(pk__in=profile.allowed_dids.values("pk"))
    return list(dids)


def default_did(user: AbstractBaseUser, dids: list[Did]) -> str | None:
    profile = SenderProfile.objects.filter(user=user).select_related("default_did").first()
    if profile and profile.default_did and profile.default_did in dids:
        return profile.default_did.phonenumber
    return None
