from __future__ import annotations

from django.urls import path

from messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.send_page, name="send"),
    path("recent/", views.recent_messages, name="recent"),
]
