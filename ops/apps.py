from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Health, metrics and worker heartbeats: what an operator watches. It reads every app's
    tables, so it sits on top and nothing imports it."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"
