from __future__ import annotations

from django.urls import path

from messaging import auto_reply_views, inbox_views, search_views, views

app_name = "messaging"
urlpatterns = [
    path("", views.send_page, name="send"),
    path("recent/", views.recent_messages, name="recent"),
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/<str:customer>/", inbox_views.conversation, name="conversation"),
    path("inbox/<str:customer>/reply/", inbox_views.reply, name="reply"),
    path("messages/", search_views.message_list, name="messages"),
    path("messages/export.csv", search_views.messages_export, name="messages_export"),
    path("messages/<int:pk>/", inbox_views.message_detail, name="message"),
    path("auto-reply/", auto_reply_views.auto_replies, name="auto_replies"),
    path("auto-reply/<str:did_sid>/", auto_reply_views.auto_reply_save, name="auto_reply_save"),
]
