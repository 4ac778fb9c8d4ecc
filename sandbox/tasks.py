"""The sandbox carrier's background work: moving outbound messages through their statuses and
POSTing callbacks, as CarrierX does after it has answered the API request."""

from __future__ import annotations

import datetime as dt
import logging
import random
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sandbox.callback_targets import callback_target, without_credentials
from sandbox.detail_records import (
    LANDLINE,
    MMS_MEDIA_NOT_RECEIVED,
    MMS_MEDIA_NOT_SENT,
    UNDELIVERED,
    is_landline,
)
from sandbox.media import MediaError, MediaFile, media_fetch, media_store, storage_url
from sandbox.models import SandboxCallbackAttempt, SandboxDid, SandboxMessage
from sandbox.serializers import sms_json

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT = (5, 10)  # (connect, read) seconds
# Where the carrier's network would put the handset: a test network code of a US carrier.
MCC, MNC = 310, 999

Status = SandboxMessage.Status


def enqueue_step(message_sid: str, from_status: str) -> None:
    """Schedule the message's next status change, SANDBOX_STEP_SECONDS from now (0: at once)."""
    step = advance_message
    if queue := getattr(settings, "SANDBOX_TASK_QUEUE", ""):
        # The carrier's own machinery, apart from the portal's workers (bench/bench_campaign.py
        # runs it on workers of its own, as a carrier's status updates never queue behind ours).
        step = step.using(queue_name=queue)
    delay = settings.SANDBOX_STEP_SECONDS
    if delay > 0:
        step = step.using(run_after=timezone.now() + dt.timedelta(seconds=delay))
    step.enqueue(message_sid, from_status)


def _pending_media(message_sid: str, status: str) -> list[str]:
    """The media URLs of a message still in `status`: what its step must fetch first."""
    found = SandboxMessage.objects.filter(message_sid=message_sid, status=status).values_list(
        "media_urls", flat=True
    )
    return next(iter(found), None) or []


@task()
def advance_message(message_sid: str, from_status: str) -> None:
    """Move an outbound message one step along queued → sent → delivered (or failed, for a share
    SANDBOX_FAILURE_RATE of messages), fire its callback, and schedule the next step.

    An MMS leaves `queued` only once its media are fetched and kept (sandbox/media.py); media
    that cannot be fetched or break the limits fail it there, with the reason, unsent and unpriced.
    The fetch happens before the row is locked: it may take a while, and a repeated run that
    fetched in vain finds the message moved on and keeps nothing.

    `from_status` makes a repeated run harmless: if the message has moved on, nothing happens.
    """
    files: list[MediaFile] = []
    problem = ""
    if from_status == Status.QUEUED and (urls := _pending_media(message_sid, from_status)):
        try:
            files = media_fetch(urls)
        except MediaError as err:
            problem = str(err)
    with transaction.atomic():
        message = (
            SandboxMessage.objects.select_for_update()
            .select_related("partner")
            .filter(message_sid=message_sid, status=from_status)
            .first()
        )
        if message is None:
            logger.info("sandbox: %s is no longer %s; nothing to do", message_sid, from_status)
            return
        now = timezone.now()
        message.date_status_changed = message.date_changed = now
        if from_status == Status.QUEUED and not problem and is_landline(message.to_number):
            # Never sent, as a carrier refuses a text to a number that cannot take one.
            problem = f"{message.to_number} is a landline; it cannot receive texts"
            message.vendor_error_code = LANDLINE
            prefix = "Not sent"
        else:
            message.vendor_error_code = MMS_MEDIA_NOT_SENT if problem else None
            prefix = "MMS not sent"
        if problem:
            message.status = Status.FAILED
            message.error_message = f"{prefix}: {problem}"[:500]
            message.price = Decimal(0)
        else:
            if from_status == Status.QUEUED:
                message.status = Status.SENT
                message.date_sent = now
                media_store(message=message, files=files)
            elif random.random() < settings.SANDBOX_FAILURE_RATE:
                message.status = Status.FAILED
                message.vendor_error_code = UNDELIVERED
            else:
                message.status = Status.DELIVERED
            message.price = message.charge()
            message.mcc, message.mnc = MCC, MNC
        if message.status != Status.SENT:
            message.date_stop = now
        message.save(
            update_fields=[
                "status",
                "date_status_changed",
                "date_changed",
                "date_sent",
                "date_stop",
                "price",
                "mcc",
                "mnc",
                "error_message",
                "vendor_error_code",
            ]
        )

    # The callback goes out after the commit, so the receiver can GET the message and see it.
    fire_callback(message)
    if message.status == Status.SENT:
        enqueue_step(message_sid, Status.SENT)


@task()
def deliver_inbound(message_sid: str, media_urls: list[str] | None = None) -> None:
    """Tell the partner about a text that reached one of its DIDs. An MMS sent with
    `media_urls` has them fetched and kept first; if that fails, the message is marked failed
    with the reason and the partner hears nothing (the text never arrived)."""
    message = (
        SandboxMessage.objects.select_related("partner").filter(message_sid=message_sid).first()
    )
    if message is None:
        return
    if media_urls and not message.media.exists():
        try:
            files = media_fetch(media_urls)
        except MediaError as err:
            message.status = Status.FAILED
            message.error_message = f"MMS not received: {err}"[:500]
            message.vendor_error_code = MMS_MEDIA_NOT_RECEIVED
            message.date_status_changed = message.date_changed = message.date_stop = timezone.now()
            message.save(
                update_fields=[
                    "status",
                    "error_message",
                    "vendor_error_code",
                    "date_status_changed",
                    "date_changed",
                    "date_stop",
                ]
            )
            logger.info("sandbox: inbound MMS %s failed: %s", message_sid, err)
            return
        with transaction.atomic():
            stored = media_store(message=message, files=files)
            message.media_urls = [storage_url(media) for media in stored]
            message.date_changed = timezone.now()
            message.save(update_fields=["media_urls", "date_changed"])
    fire_callback(message)


def fire_callback(message: SandboxMessage) -> SandboxCallbackAttempt | None:
    """POST the SMS object to the URL CarrierX would use for it right now, and record the try.

    The URL is the first non-empty of: our DID's `callback_url`, its DID Group's `callback_url`,
    the partner's `callbacks["sms"]` (our DID sent an outbound message, received an inbound one).
    It is resolved now, not when the message was created, so an edit applies to the next callback.
    Delivery and its policy are `post_callback`'s.
    """
    did = (
        SandboxDid.objects.select_related("did_group")
        .filter(partner=message.partner, phonenumber=message.our_number)
        .first()
    )
    candidates = [
        did.callback_url if did else None,
        did.did_group.callback_url if did and did.did_group else None,
        (message.partner.callbacks or {}).get("sms"),
    ]
    url = next((candidate for candidate in candidates if candidate), None)
    if url is None:
        logger.info("sandbox: no SMS callback URL for %s; none fired", message.our_number)
        return None

    return post_callback(url, sms_json(message), message=message, event="sms")


def post_callback(
    url: object, body: dict, *, message: SandboxMessage | None = None, event: str = "sms"
) -> SandboxCallbackAttempt:
    """POST `body` to `url` if sandbox/callback_targets.py allows it, and record the try.

    The URL must be the portal's own webhook, an allow-listed host, or a public address; a refused
    one is recorded with the reason and never connected to. A receiver that fails or cannot be
    reached is logged and recorded, never raised: it must not stop what the sandbox is doing.
    """
    status = body.get("status")
    # The partner's callbacks are free JSON: a number there is refused below like any bad URL.
    url = str(url)
    shown_url = without_credentials(url)
    target = callback_target(
        url, public_url=settings.PUBLIC_URL, allowed_hosts=settings.SANDBOX_CALLBACK_HOSTS
    )
    if target.refused:
        logger.warning(
            # %r: a refused URL may hold a line break, which must not start a forged log line.
            "sandbox: %s %s callback to %r refused: %s",
            event,
            status,
            shown_url,
            target.refused,
        )
        return SandboxCallbackAttempt.objects.create(
            message=message,
            event=event,
            url=shown_url,
            request_body=body,
            error="refused: " + target.refused,
        )
    # Recorded before the POST, so a crash mid-request still shows that the sandbox tried.
    attempt = SandboxCallbackAttempt.objects.create(
        message=message, event=event, url=shown_url, request_body=body
    )
    try:
        # A session of its own: no proxies or .netrc credentials from the environment, and its
        # connection closed afterwards rather than kept alive on the receiver.
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                target.url,
                json=body,
                timeout=CALLBACK_TIMEOUT,
                headers={"User-Agent": "carrierx-sandbox", **target.headers},
                # A redirect is the receiver's answer, not an address to try next.
                allow_redirects=False,
                # The receiver's answer body is never read; it may be as large as it likes.
                stream=True,
            )
            response.close()
    except requests.RequestException as err:
        attempt.error = str(err)
        attempt.save(update_fields=["error"])
        logger.warning("sandbox: %s %s callback to %s failed: %s", event, status, shown_url, err)
        return attempt
    attempt.response_status = response.status_code
    attempt.save(update_fields=["response_status"])
    if response.status_code >= 300:
        logger.warning(
            "sandbox: %s %s callback to %s answered HTTP %s%s",
            event,
            status,
            shown_url,
            response.status_code,
            " (redirects are not followed)" if response.is_redirect else "",
        )
    return attempt
