from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django.contrib.auth.models import User
        from django.db.models.signals import m2m_changed

        from portal import checks  # noqa: F401  (registers the system checks)
        from portal.audit import groups_changed

        m2m_changed.connect(
            groups_changed, sender=User.groups.through, dispatch_uid="portal.role_change_audit"
        )
