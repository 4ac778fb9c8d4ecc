from __future__ import annotations

from django.urls import path

from phone_numbers import edit_views, number_views, rent_views, views

app_name = "numbers"
urlpatterns = [
    path("", views.number_list, name="list"),
    path("sync/", views.number_sync, name="sync"),
    path("rent/", rent_views.rent_search, name="rent"),
    path("rent/confirm/", rent_views.rent_confirm, name="rent_confirm"),
    path("callbacks/fix/", edit_views.callbacks_fix, name="callbacks_fix"),
    path("groups/", views.group_list, name="groups"),
    path("groups/<str:did_group_sid>/", views.group_detail, name="group_detail"),
    path(
        "groups/<str:did_group_sid>/callback/",
        edit_views.group_callback_edit,
        name="group_callback",
    ),
    path("settings/callbacks/", views.partner_callbacks, name="partner_callbacks"),
    path("settings/callbacks/sms/", edit_views.partner_callback_edit, name="partner_callback"),
    # Last: a DID SID is any string, so the fixed paths above must match first.
    path("<str:did_sid>/", views.number_detail, name="detail"),
    path("<str:did_sid>/callback/", edit_views.did_callback_edit, name="did_callback"),
    path("<str:did_sid>/group/", edit_views.did_group_edit, name="did_group"),
    path("<str:did_sid>/name/", number_views.number_name_edit, name="name"),
    path("<str:did_sid>/send-rate/", number_views.number_send_rate_edit, name="send_rate"),
    path("<str:did_sid>/messaging/", number_views.number_messaging, name="messaging"),
    path("<str:did_sid>/release/", number_views.number_release_view, name="release"),
]
