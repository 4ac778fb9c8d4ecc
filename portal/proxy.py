"""The client's address when a TLS-terminating proxy stands in front of the portal."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address our proxy appended to X-Forwarded-For: the last entry, the one it saw.

    Entries further left come from the client and can say anything, so they are not trusted.
    Used only with BEHIND_TLS_PROXY, where REMOTE_ADDR is the proxy's own address.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else request.META.get("REMOTE_ADDR")
