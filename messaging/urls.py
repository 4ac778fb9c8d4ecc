from __future__ import annotations

from django.urls import path

from messaging.views import (
    assignment,
    auto_reply,
    inbox,
    lookups,
    media,
    messages,
    new_conversation,
    saved_replies,
    send,
)
from messaging.views.notifications import notify_poll

app_name = "messaging"
urlpatterns = [
    path("", send.send_page, name="send"),
    path("recent/", send.recent_messages, name="recent"),
    path("number-check/", lookups.number_check, name="number_check"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/notify/", notify_poll, name="notify"),
    path("inbox/new/", new_conversation.conversation_new, name="conversation_new"),
    path("inbox/<str:customer>/", inbox.conversation, name="conversation"),
    path("inbox/<str:customer>/reply/", inbox.reply, name="reply"),
    path("inbox/<str:customer>/assign/", assignment.assign, name="assign"),
    path("inbox/<str:customer>/done/", assignment.done, name="done"),
    path("inbox/<str:customer>/reopen/", assignment.reopen, name="reopen"),
    path("messages/", messages.message_list, name="messages"),
    path("messages/export.csv", messages.messages_export, name="messages_export"),
    path("messages/<int:pk>/", messages.message_detail, name="message"),
    path("messages/<int:pk>/scheduled/", messages.scheduled_edit, name="scheduled_edit"),
    path("messages/<int:pk>/cancel/", messages.scheduled_cancel_view, name="scheduled_cancel"),
    path("saved-replies/", saved_replies.saved_replies, name="saved_replies"),
    path("saved-replies/new/", saved_replies.saved_reply_new, name="saved_reply_new"),
    path("saved-replies/<int:pk>/", saved_replies.saved_reply_edit, name="saved_reply_edit"),
    path(
        "saved-replies/<int:pk>/delete/",
        saved_replies.saved_reply_delete,
        name="saved_reply_delete",
    ),
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
