from __future__ import annotations

from django.urls import path

from phone_numbers import views

app_name = "numbers"
urlpatterns = [
    path("", views.number_list, name="list"),
    path("sync/", views.number_sync, name="sync"),
    path("groups/", views.group_list, name="groups"),
    path("groups/<str:did_group_sid>/", views.group_detail, name="group_detail"),
    path(
        "groups/<str:did_group_sid>/callback/",
        views.group_callback_edit,
        name="group_callback",
    ),
    path("settings/callbacks/", views.partner_callbacks, name="partner_callbacks"),
    path("settings/callbacks/sms/", views.partner_callback_edit, name="partner_callback"),
    # Last: a DID SID is any string, so the fixed paths above must match first.
    path("<str:did_sid>/", views.number_detail, name="detail"),
    path("<str:did_sid>/callback/", views.did_callback_edit, name="did_callback"),
    path("<str:did_sid>/group/", views.did_group_edit, name="did_group"),
]
