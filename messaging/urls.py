from __future__ import annotations

from django.urls import path

from messaging import inbox_views, views

app_name = "messaging"
urlpatterns = [
    path("", views.send_page, name="send"),
    path("recent/", views.recent_messages, name="recent"),
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/<str:customer>/", inbox_views.conversation, name="conversation"),
    path("inbox/<str:customer>/reply/", inbox_views.reply, name="reply"),
    path("messages/<int:pk>/", inbox_views.message_detail, name="message"),
]
