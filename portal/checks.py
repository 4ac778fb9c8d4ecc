"""System checks: what `manage.py check` (and so every start of the portal) says about how it is
configured. Registered in PortalConfig.ready()."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_sandbox_mode(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    if not settings.CARRIERX_SANDBOX:
        return []
    return [
        Warning(
            "Sandbox mode is on: the portal talks to its built-in sandbox carrier instead of "
            "CarrierX, and serves that sandbox's API, handset and fault controls under /sandbox/.",
            hint="Set CARRIERX_TOKEN and CARRIERX_WEBHOOK_SECRET, and unset CARRIERX_SANDBOX, "
            "to use the real CarrierX.",
            id="portal.W001",
        )
    ]
