from __future__ import annotations

from django.urls import path, re_path

from sandbox import (
    api,
    api_views,
    control_views,
    detail_views,
    handset_views,
    media_views,
    numbers_views,
)
from sandbox.faults import faulty

app_name = "sandbox"
urlpatterns = [
    # The Core API v2 subset, at the carrier's own paths (CARRIERX.md §2), behind the faults
    # injected on purpose (sandbox/faults.py).
    path("core/v2/sms/messages", faulty(api_views.sms_messages), name="sms_messages"),
    path(
        "core/v2/sms/messages/<str:message_sid>", faulty(api_views.sms_message), name="sms_message"
    ),
    path("core/v2/sms/message_drs", faulty(detail_views.message_drs), name="message_drs"),
    path(
        "core/v2/sms/message_drs/<str:dr_sid>",
        faulty(detail_views.message_dr),
        name="message_dr",
    ),
    path(
        "core/v2/lookup/dids/<str:phonenumber>",
        faulty(detail_views.lookup_did),
        name="lookup_did",
    ),
    path("core/v2/phonenumber/dids", faulty(api_views.dids), name="dids"),
    path("core/v2/phonenumber/dids/<str:did_sid>", faulty(api_views.did), name="did"),
    path(
        "core/v2/phonenumber/dids/<str:did_sid>/messaging",
        faulty(numbers_views.messaging),
        name="did_messaging",
    ),
    path(
        "core/v2/phonenumber/available_dids",
        faulty(numbers_views.available_dids),
        name="available_dids",
    ),
    path(
        "core/v2/phonenumber/available_dids/<str:did_sid>",
        faulty(numbers_views.available_did),
        name="available_did",
    ),
    path("core/v2/phonenumber/coverage", faulty(numbers_views.coverage), name="coverage"),
    path("core/v2/phonenumber/did_groups", faulty(api_views.did_groups), name="did_groups"),
    path(
        "core/v2/phonenumber/did_groups/<str:did_group_sid>",
        faulty(api_views.did_group),
        name="did_group",
    ),
    path("core/v2/partners", faulty(api_views.partners), name="partners"),
    path("core/v2/partners/<str:partner_sid>", faulty(api_views.partner), name="partner"),
    # Any other API path answers the carrier's JSON 404 (not Django's HTML one).
    re_path(r"^core/", api.unknown_route, name="unknown_route"),
    # Sandbox-only tools: the other end of the conversation, and the carrier's bad days.
    path("simulate/inbound", handset_views.simulate_inbound, name="simulate_inbound"),
    path("phone/", handset_views.phone, name="phone"),
    path("control", control_views.control, name="control"),
    path("control/media", media_views.media_list, name="control_media"),
    path("control/media/purge", media_views.media_purge, name="control_media_purge"),
    # MMS media, at links shaped like the carrier's storage (`storage.carrierx.com/f/<sid>`).
    path("storage/f/<uuid:media_uuid>", media_views.storage, name="storage"),
]
