"""Where the sandbox may POST a callback, decided before it connects anywhere.

Anyone who can PATCH a DID, a DID group or the partner chooses a URL the sandbox will POST to from
inside our network, so a callback URL is a request forgery waiting to happen (SSRF). The policy:

1. **The portal's own webhook** — scheme, host and port of `PUBLIC_URL`, path under
   `/webhooks/carrierx/` — is always allowed, loopback included: in development the portal *is*
   on 127.0.0.1, and that is the one loopback URL the sandbox exists to call.
2. **Hosts the operator listed** in `SANDBOX_CALLBACK_HOSTS` (`host` for any port, `host:port`
   for one; `[::1]:9000` for IPv6) are allowed as written, whatever they resolve to: the
   operator vouched for them (a callback script on this machine, a test's receiver).
3. **Everything else** must resolve only to public addresses. Every address `getaddrinfo`
   returns is checked; one loopback, private (RFC 1918, fc00::/7), link-local (169.254/16,
   fe80::/10, so the cloud metadata endpoints), shared/CGNAT (100.64/10), multicast, reserved or
   unspecified address refuses the URL, as do IPv4 addresses hidden in IPv6 (`::ffff:127.0.0.1`,
   6to4, NAT64) and IPv4 spelled any way but the dotted quad (`0x7f000001`, `2130706433`,
   `0177.0.0.1`, `127.1`: the C resolver reads them all as 127.0.0.1). An http request is then
   sent to the checked address itself, with the name in `Host`, so the name cannot resolve to
   something else a moment later (DNS rebinding). https keeps the name (the certificate needs it);
   its window between check and connect is the resolver's cache.

Always: credentials in the URL (`http://user:pass@host/`) refuse it — requests would send them as
Basic auth to whoever answers; the URL must be printable ASCII without spaces or backslashes (where
URL parsers disagree about the host); redirects are never followed, so an allowed host cannot
bounce the POST elsewhere (the caller records the 3xx as the outcome).

The same policy decides where the sandbox may fetch MMS media from (sandbox/media.py), with one
difference in rule 1: any path of the portal's own origin is allowed (its media are not under the
webhook), `own_path="/"`.

Plain Python (no Django): the caller passes the settings in.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list]

DEFAULT_PORTS = {"http": 80, "https": 443}
OWN_WEBHOOK_PATH = "/webhooks/carrierx/"
# Printable ASCII, no space, no backslash: outside it, urlsplit and urllib3 may see different hosts.
SAFE_URL = re.compile(r"[!-\[\]-~]+")
# The WHATWG URL rule: a host whose last label is a number is an IPv4 address, however written.
NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
SHARED = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Target:
    """The decision for one callback URL. Refused: `refused` says why. Allowed: request `url`
    with `headers` (for a pinned http request, `url` names the checked address and the headers
    carry the original `Host`)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    refused: str = ""


def address_problem(address: IPAddress) -> str | None:
    """Why the sandbox must not connect to `address`, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"an IPv6 form of {embedded}, {problem}" if problem else None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address in METADATA:
        return "the cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED:
        return "a shared (CGNAT) address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def without_credentials(url: str) -> str:
    """The URL as it may be shown and stored: a password in it is masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def _host_and_port(entry: str) -> tuple[str, int | None]:
    """`example.com`, `example.com:8080`, `[::1]:9000`, `::1` → (host, port or None)."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    return host.rstrip("."), int(port) if port.isdigit() else None


def _is_own_webhook(
    parts: SplitResult, host: str, port: int, wire_path: str, own: str, own_path: str
) -> bool:
    try:
        own_parts = urlsplit(own)
        own_port = own_parts.port or DEFAULT_PORTS.get(own_parts.scheme)
    except ValueError:
        return False
    own_host = (own_parts.hostname or "").rstrip(".")
    return (
        (parts.scheme, host, port) == (own_parts.scheme, own_host, own_port)
        and bool(own_host)
        # The path urllib3 sends, after it removed any `..`: it must stay under the webhook.
        and wire_path.startswith(own_parts.path.rstrip("/") + own_path)
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_allow_listed(host: str, port: int, allowed_hosts: Iterable[str]) -> bool:
    for entry in allowed_hosts:
        if not entry.strip():
            continue
        allowed_host, allowed_port = _host_and_port(entry)
        if allowed_host == host and allowed_port in (None, port):
            return True
    return False


def callback_target(
    url: str,
    *,
    public_url: str,
    allowed_hosts: Iterable[str] = (),
    resolve: Resolver = socket.getaddrinfo,
    own_path: str = OWN_WEBHOOK_PATH,
) -> Target:
    """Decide whether the sandbox may POST to `url` (see the module docstring for the policy).

    `public_url` is the portal's `PUBLIC_URL`; `allowed_hosts` its `SANDBOX_CALLBACK_HOSTS`;
    `own_path` the paths of the portal's own origin that rule 1 allows (its webhook, by default).
    Never raises: anything unexpected about the URL refuses it.
    """
    if not isinstance(url, str) or not SAFE_URL.fullmatch(url):
        return Target(url, refused="the URL must be printable ASCII without spaces or backslashes")
    try:
        parts = urlsplit(url)
        written_port = parts.port
        wire = parse_url(url)
    except (ValueError, LocationParseError):
        return Target(url, refused="the URL cannot be parsed")
    if parts.scheme not in DEFAULT_PORTS:
        return Target(url, refused="only http:// and https:// URLs are called")
    if "@" in parts.netloc:
        return Target(url, refused="credentials in the URL are never sent")
    host = (parts.hostname or "").rstrip(".")
    port = written_port or DEFAULT_PORTS[parts.scheme]
    wire_host = (wire.host or "").strip("[]").rstrip(".").lower()
    if not host or wire_host != host or (wire.port or DEFAULT_PORTS[parts.scheme]) != port:
        return Target(url, refused="the URL's host is ambiguous")

    if _is_own_webhook(parts, host, port, wire.path or "/", public_url, own_path):
        return Target(url)
    if _is_allow_listed(host, port, allowed_hosts):
        return Target(url)

    if ":" not in host and NUMERIC_LABEL.fullmatch(host.rpartition(".")[2]):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return Target(url, refused=f"{host} is an IPv4 address in a non-standard spelling")
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as err:
        return Target(url, refused=f"{host} cannot be resolved ({err})")
    addresses = []
    for info in infos:
        try:
            # A link-local IPv6 result carries its zone (`fe80::1%eth0`); the address is before %.
            address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        except ValueError:
            return Target(url, refused=f"{host} resolves to an unreadable address")
        if problem := address_problem(address):
            if _is_address(host):
                return Target(url, refused=f"{host} is {problem}")
            return Target(url, refused=f"{host} resolves to {address}, {problem}")
        addresses.append(address)
    if not addresses:
        return Target(url, refused=f"{host} resolves to no address")

    if parts.scheme != "http":
        return Target(url)
    pinned = addresses[0]
    pinned_host = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    pinned_url = urlunsplit(parts._replace(netloc=f"{pinned_host}:{port}", fragment=""))
    return Target(pinned_url, headers={"Host": parts.netloc})
