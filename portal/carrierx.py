"""The one CarrierX Core API v2 client.

Every HTTP call to the carrier (or to the built-in sandbox, which speaks the same API) goes through
`CarrierXClient._request`: one `requests.Session`, a Bearer token, explicit (connect, read)
timeouts, and one exception type, `CarrierXError`, that carries the carrier's own message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from portal import metrics
from portal.metrics import endpoint

logger = logging.getLogger(__name__)

USER_AGENT = "carrierx-messaging-portal/1.0"
LIST_PAGE_SIZE = 100
# Detail records come by the thousand: fewer, larger pages (the sandbox's, and the carrier's
# usual, largest `limit`).
DETAIL_RECORDS_PAGE_SIZE = 1000


class CarrierXError(Exception):
    """The carrier refused a request, or could not be reached.

    `status` is the HTTP status (None when no answer came back); `permanent` says whether sending
    the same request again can ever succeed (4xx other than 429) — retries look at it.
    `reached_carrier` is False only when the request provably never arrived (connection refused,
    DNS failure); after a read timeout or a 5xx the carrier may have acted on it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list | None = None,
        retry_after: float | None = None,
        reached_carrier: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors if isinstance(errors, list) else []
        self.retry_after = retry_after
        self.reached_carrier = reached_carrier

    @property
    def permanent(self) -> bool:
        return self.status is not None and 400 <= self.status < 500 and self.status != 429

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})" if self.status else self.message


def error_message(body: Any, status: int) -> str:
    """Turn a CarrierX error body into one readable line.

    The carrier answers `{"message": "no item error", "errors": [{"field": ..., "message": ...}]}`;
    the details in `errors` say more than the headline, so both are shown.
    """
    if not isinstance(body, dict):
        return f"CarrierX answered HTTP {status}"
    headline = str(body.get("message") or f"CarrierX answered HTTP {status}")
    errors = body.get("errors")
    details = []
    for err in errors if isinstance(errors, list) else []:
        if not isinstance(err, dict) or not err.get("message"):
            continue
        text = str(err["message"])
        details.append(f"{err['field']}: {text}" if err.get("field") else text)
    return f"{headline}: {'; '.join(details)}" if details else headline


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def sms_fields(sms: dict) -> dict:
    """The SMS object with both namings filled in: `from`/`to` (current) and `from_did`/`to_did`
    (legacy accounts and the 2021 tutorial). Read code uses `from`/`to` only."""
    out = dict(sms)
    out["from"] = sms.get("from") or sms.get("from_did") or ""
    out["to"] = sms.get("to") or sms.get("to_did") or ""
    return out


class CarrierXClient:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: tuple[float, float],
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.session = session or requests.Session()
        self.headers = {
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    # --- transport -------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    def _same_origin(self, path_or_url: str) -> bool:
        """Whether a link resolves to the carrier's own scheme, host and port."""
        ours, theirs = urlsplit(self.base_url), urlsplit(self._url(path_or_url))
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _request(
        self, method: str, path_or_url: str, *, json: Any = None, params: dict | None = None
    ) -> Any:
        label = endpoint(path_or_url)
        started = time.perf_counter()
        status = 0
        try:
            response = self._send(method, path_or_url, json=json, params=params)
            status = response.status_code
        finally:
            elapsed = time.perf_counter() - started
            metrics.CARRIER_SECONDS.labels(method, label).observe(elapsed)
            metrics.CARRIER_REQUESTS.labels(method, label, str(status)).inc()
            logger.info("carrier %s %s %s %.0f ms", method, label, status or "-", elapsed * 1000)
        return self._answer(response)

    def _send(
        self, method: str, path_or_url: str, *, json: Any, params: dict | None
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                self._url(path_or_url),
                json=json,
                params=params,
                headers=self.headers,
                timeout=self.timeout,
            )
        except requests.ConnectionError as err:
            # A refused or unresolvable connection never delivered the request; a connection that
            # dropped mid-answer may have. requests raises ConnectionError for both, so look inside.
            never_sent = _never_reached(err)
            reason = "could not connect" if never_sent else "the connection dropped"
            raise CarrierXError(
                f"CarrierX is unreachable ({reason})", reached_carrier=not never_sent
            ) from err
        except requests.Timeout as err:
            raise CarrierXError("CarrierX did not answer in time") from err
        except requests.RequestException as err:
            raise CarrierXError(f"CarrierX request failed: {err}") from err
        return response

    def _answer(self, response: requests.Response) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise CarrierXError(
                error_message(body, response.status_code),
                status=response.status_code,
                errors=body.get("errors") if isinstance(body, dict) else None,
                retry_after=_retry_after(response),
            )
        if response.content and body is None:
            raise CarrierXError(
                f"CarrierX answered HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
            )
        return body

    def list_page(self, path: str, *, params: dict | None = None, limit: int, offset: int) -> Page:
        """One page of a list endpoint, for a screen that pages through it (offset/limit as the
        carrier takes them). Endpoints such as available_dids do not count (`total` is null), so
        whether there is more is the carrier's `has_more`, else a full page."""
        page = self._request(
            "GET", path, params={**(params or {}), "limit": limit, "offset": offset}
        )
        page = page if isinstance(page, dict) else {}
        items = page.get("items") or []
        more = page.get("has_more")
        return Page(
            items=items,
            offset=offset,
            limit=limit,
            has_more=bool(more) if more is not None else len(items) >= limit,
        )

    def iter_list(self, path: str, params: dict | None = None) -> Iterator[dict]:
        """Yield every item of a list endpoint, following `pagination.next` to the last page."""
        url: str | None = path
        query = {"limit": LIST_PAGE_SIZE, **(params or {})}
        while url:
            page = self._request("GET", url, params=query)
            # A page that is no list envelope can neither be read nor skipped (its items would
            # be lost): the caller is told, as if the carrier had failed.
            if not isinstance(page, dict):
                raise CarrierXError(f"CarrierX answered {path} with a page that is not a list")
            items = page.get("items")
            pagination = page.get("pagination") or {}
            url = pagination.get("next") if isinstance(pagination, dict) else pagination
            if not isinstance(items, list | None) or not isinstance(url, str | None):
                raise CarrierXError(f"CarrierX answered {path} with a page that is not a list")
            if url and not self._same_origin(url):
                # Our bearer token goes with every request: never to a host a page names.
                raise CarrierXError(f"CarrierX answered {path} with a next page on another host")
            items = items or []
            yield from items
            # The next link already carries limit/offset/filter.
            query = None
            if not items:
                break

    # --- SMS -------------------------------------------------------------------------------------

    def send_sms(
        self,
        *,
        from_: str,
        to: str,
        message: str,
        user_data: str | None = None,
        media_urls: list[str] | None = None,
    ) -> dict:
        """One SMS, or an MMS when `media_urls` is given (the carrier then fetches each URL)."""
        body: dict[str, Any] = {"from": from_, "to": to, "message": message}
        if media_urls:
            body["media_urls"] = media_urls
            if not message:
                # An MMS may be pictures alone; the carrier documents `message` as optional then.
                del body["message"]
        if user_data is not None:
            body["user_data"] = user_data
        sms = sms_fields(self._request("POST", "sms/messages", json=body))
        metrics.MESSAGES_SENT.labels(from_).inc()
        return sms

    def get_sms(self, message_sid: str) -> dict:
        return sms_fields(self._request("GET", f"sms/messages/{message_sid}"))

    def list_sms(self, *, filter: str | None = None, order: str | None = None) -> Iterator[dict]:
        params = {k: v for k, v in {"filter": filter, "order": order}.items() if v}
        for item in self.iter_list("sms/messages", params):
            yield sms_fields(item)

    # --- Detail records and lookup ---------------------------------------------------------------

    def list_message_drs(
        self, *, after: str | None = None, filter: str | None = None
    ) -> Iterator[dict]:
        """Every message detail record (CARRIERX-MORE.md §5) the carrier inserted after the record
        `after` (a `dr_sid`; None: from the first), oldest first, matching `filter`
        (`date_stop ge 2026-11-29T14:00:00Z`), following `pagination.next` to the last page."""
        params: dict[str, Any] = {"limit": DETAIL_RECORDS_PAGE_SIZE}
        if after:
            params["after"] = after
        if filter:
            params["filter"] = filter
        return self.iter_list("sms/message_drs", params)

    def get_message_dr(self, dr_sid: str) -> dict:
        return self._request("GET", f"sms/message_drs/{dr_sid}")

    def lookup_did(self, number: str, *, carrier: bool = True) -> dict:
        """What the carrier knows of a phone number (§6); with `carrier`, `details.carrier` is
        `{mcc, mnc, name, type}` (`type` mobile, landline or voip). The number goes as its digits;
        the carrier ignores anything but digits and `+`."""
        digits = "".join(char for char in number if char.isascii() and char.isdigit())
        params = {"carrier": "true"} if carrier else None
        return self._request("GET", f"lookup/dids/{digits}", params=params)

    # --- Phone numbers ---------------------------------------------------------------------------

    def list_dids(self) -> Iterator[dict]:
        return self.iter_list("phonenumber/dids")

    def get_did(self, did_sid: str) -> dict:
        return self._request("GET", f"phonenumber/dids/{did_sid}")

    def update_did(self, did_sid: str, changes: dict) -> dict:
        return self._request("PATCH", f"phonenumber/dids/{did_sid}", json=changes)

    def rename_did(self, did_sid: str, name: str) -> dict:
        return self.update_did(did_sid, {"name": name})

    def available_dids(self, *, filter: str | None = None, limit: int, offset: int = 0) -> Page:
        """One page of the carrier's inventory of rentable numbers (DID objects, `status`
        "available"); `filter` as `available_filter()` builds it."""
        params = {"filter": filter} if filter else None
        return self.list_page(
            "phonenumber/available_dids", params=params, limit=limit, offset=offset
        )

    def coverage(self, *, group_by: str = "state", filter: str | None = None) -> list[dict]:
        """How many numbers the inventory holds per `group_by` value: `[{"key", "count"}, ...]`."""
        params = {"group_by": group_by, **({"filter": filter} if filter else {})}
        return list(self.iter_list("phonenumber/coverage", params))

    def rent_did(self, *, phonenumber: str | None = None, callback_url: str | None = None) -> dict:
        """Rent `phonenumber` (or, without one, the first number the carrier has): 200 + the DID
        object, `status` "assigned". The body may be empty but must be a JSON object."""
        body: dict = {}
        if phonenumber:
            body["phonenumber"] = phonenumber
        if callback_url:
            body["callback_url"] = callback_url
        return self._request("POST", "phonenumber/dids", json=body)

    def release_did(self, did_sid: str) -> None:
        """Give the number back: 204; the carrier keeps it `aging` (not rentable for a while)."""
        self._request("DELETE", f"phonenumber/dids/{did_sid}")

    def get_messaging(self, did_sid: str) -> dict:
        """The DID's Messaging Enablement object: `enabled`, `status` (in_progress, enabled,
        disabled, failed), `type`, `campaign_sid`, ..."""
        return self._request("GET", f"phonenumber/dids/{did_sid}/messaging")

    def set_messaging(
        self,
        did_sid: str,
        *,
        enabled: bool,
        type: str | None = None,
        campaign_sid: str | None = None,
        force: bool = False,
    ) -> dict:
        """Enable (or, with `enabled=False`, disable) SMS/MMS on the DID; the carrier answers
        `status` "in_progress" and finishes later. `force` changes type or campaign in one step
        instead of disable-then-enable."""
        body: dict = {"enabled": enabled}
        if type:
            body["type"] = type
        if campaign_sid:
            body["campaign_sid"] = campaign_sid
        params = {"force": "true"} if force else None
        return self._request(
            "POST", f"phonenumber/dids/{did_sid}/messaging", json=body, params=params
        )

    def list_did_groups(self) -> Iterator[dict]:
        return self.iter_list("phonenumber/did_groups")

    def get_did_group(self, did_group_sid: str) -> dict:
        return self._request("GET", f"phonenumber/did_groups/{did_group_sid}")

    def update_did_group(self, did_group_sid: str, changes: dict) -> dict:
        return self._request("PATCH", f"phonenumber/did_groups/{did_group_sid}", json=changes)

    # --- Partner ---------------------------------------------------------------------------------

    def list_partners(self) -> Iterator[dict]:
        return self.iter_list("partners")

    def get_partner(self, partner_sid: str) -> dict:
        return self._request("GET", f"partners/{partner_sid}")

    def update_partner(self, partner_sid: str, changes: dict) -> dict:
        return self._request("PATCH", f"partners/{partner_sid}", json=changes)


@dataclass(frozen=True)
class Page:
    items: list[dict]
    offset: int
    limit: int
    has_more: bool


def _quoted(value: str) -> str:
    return '"' + value.replace('"', "") + '"'


def available_filter(
    *,
    country_code: str = "",
    state: str = "",
    npa: str = "",
    capability_bits: tuple[int, ...] = (),
    near: tuple[float, float] | None = None,
) -> str:
    """The carrier's `filter=` for the inventory: conditions joined with `and` (the only joiner it
    has), each as CARRIERX-MORE.md §1.1 writes it: `state eq "NY"`, `npa eq 516`,
    `capabilities bit 2` (that capability value present), `phonenumber nearby latlng:40.7,-74.0`."""
    parts = []
    if country_code:
        parts.append(f"country_code eq {_quoted(country_code)}")
    if state:
        parts.append(f"state eq {_quoted(state)}")
    if npa:
        parts.append(f"npa eq {int(npa)}")
    parts += [f"capabilities bit {bit}" for bit in capability_bits]
    if near is not None:
        parts.append(f"phonenumber nearby latlng:{near[0]:g},{near[1]:g}")
    return " and ".join(parts)


def _never_reached(err: requests.ConnectionError) -> bool:
    """Whether the connection was never made, so the request cannot have arrived: a connect
    timeout, or urllib3's failure to connect (refused, unreachable, a name that does not resolve:
    NewConnectionError and its NameResolutionError are ConnectTimeoutErrors) behind its retry
    wrapper. Anything else (a reset or a close mid-answer) may have followed a delivered request."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    reason = err.args[0] if err.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, ConnectTimeoutError)


_session = requests.Session()


def get_client() -> CarrierXClient:
    """The client for the configured carrier (the real one, or the sandbox in sandbox mode).

    Built per call from settings (cheap) so tests and `override_settings` take effect, over one
    shared Session so connections are pooled.
    """
    return CarrierXClient(
        base_url=settings.CARRIERX_API_URL,
        token=settings.CARRIERX_TOKEN,
        timeout=settings.CARRIERX_TIMEOUT,
        session=_session,
    )
