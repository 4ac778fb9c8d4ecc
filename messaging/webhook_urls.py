from __future__ import annotations

from django.urls import path

from messaging.views.webhook import carrierx_webhook

urlpatterns = [path("carrierx/<str:secret>/", carrierx_webhook, name="webhook")]
