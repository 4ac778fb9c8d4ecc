from __future__ import annotations

from django.urls import path

from messaging.views import auto_reply, inbox, media, messages, send

app_name = "messaging"
urlpatterns = [
    path("", send.send_page, name="send"),
    path("recent/", send.recent_messages, name="recent"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<str:customer>/", inbox.conversation, name="conversation"),
    path("inbox/<str:customer>/reply/", inbox.reply, name="reply"),
    path("messages/", messages.message_list, name="messages"),
    path("messages/export.csv", messages.messages_export, name="messages_export"),
    path("messages/<int:pk>/", messages.message_detail, name="message"),
    path("media/<str:token>/", media.message_media, name="media"),
    path(
        "media/<str:token>/thumbnail/",
        media.message_media,
        {"thumbnail": True},
        name="media_thumbnail",
    ),
    path("auto-reply/", auto_reply.auto_replies, name="auto_replies"),
    path("auto-reply/<str:did_sid>/", auto_reply.auto_reply_save, name="auto_reply_save"),
]
