from __future__ import annotations

from django.apps import AppConfig


class NumbersConfig(AppConfig):
    # The package cannot be called `numbers`: that would shadow the standard library module that
    # `decimal` imports. The app label stays `numbers` (URLs, permissions, templates/numbers/).
    name = "phone_numbers"
    label = "numbers"
    verbose_name = "Phone numbers"
