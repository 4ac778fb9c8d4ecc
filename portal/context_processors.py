from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"sandbox_mode": settings.CARRIERX_SANDBOX}
