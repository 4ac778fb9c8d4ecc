from __future__ import annotations

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from messaging.models import AutoReply
        from messaging.services.auto_reply_numbers import forget

        # The webhook's copy of which DIDs answer: changed here, seen here at once.
        for signal in (post_save, post_delete):
            signal.connect(forget, sender=AutoReply, dispatch_uid=f"auto_reply_numbers.{signal}")
