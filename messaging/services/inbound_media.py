"""The files of an MMS the carrier told us about: recorded by the webhook, downloaded by the
worker and kept, since the carrier's links can expire."""

from __future__ import annotations

from messaging import tasks
from messaging.models import MediaState, Message, MessageMedia


def media_record(message: Message, urls: list[str]) -> None:
    """Record each file as pending and queue its download with the webhook's transaction, so the
    webhook answers at once and no file is forgotten if the worker is down."""
    MessageMedia.objects.bulk_create(
        MessageMedia(message=message, position=i, source_url=url, state=MediaState.PENDING)
        for i, url in enumerate(urls)
    )
    tasks.download_media_task.enqueue(message.pk)
