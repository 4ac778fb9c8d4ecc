from __future__ import annotations

from django.urls import path

from phone_numbers import views

app_name = "numbers"
urlpatterns = [
    path("", views.number_list, name="list"),
    path("<str:did_sid>/", views.number_detail, name="detail"),
]
