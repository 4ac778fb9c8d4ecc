"""System checks: what `manage.py check` (and so every start of the portal) says about how it is
configured. Registered in PortalConfig.ready()."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

WEBHOOK_SECRET_MIN_LENGTH = 24
WEBHOOK_SECRET_MIN_DISTINCT = 8
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def is_repetitive(text: str) -> bool:
    """True for a few characters repeated ("aaaa…", "abcabc…", "password1password1…"), which
    a guesser tries long before random strings of the same length."""
    if len(set(text)) < WEBHOOK_SECRET_MIN_DISTINCT:
        return True
    return any(
        text == (text[:period] * (len(text) // period + 1))[: len(text)]
        for period in range(1, len(text) // 2 + 1)
    )


@register(Tags.security)
def check_webhook_secret(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Anyone who knows the secret can post callbacks as the carrier, so it must be unguessable.
    The sandbox's own webhook is exempt: it only ever hears from the sandbox."""
    if settings.CARRIERX_SANDBOX:
        return []
    secret = settings.CARRIERX_WEBHOOK_SECRET
    problem = None
    if len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        problem = f"is {len(secret)} characters long; it needs at least {WEBHOOK_SECRET_MIN_LENGTH}"
    elif is_repetitive(secret):
        problem = "repeats a few characters; it needs to be random"
    if problem is None:
        return []
    return [
        Error(
            f"CARRIERX_WEBHOOK_SECRET {problem}.",
            hint=f"Generate one with: {GENERATE_SECRET}",
            id="portal.E001",
        )
    ]


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
