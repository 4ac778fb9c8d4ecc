from __future__ import annotations

from django.urls import path

from contacts import views

app_name = "contacts"
urlpatterns = [
    path("", views.contact_list, name="list"),
    path("new/", views.contact_new, name="new"),
    path("add/", views.contact_add, name="add"),
    path("import/", views.contact_import, name="import"),
    path("import/<int:pk>/", views.contact_import_report, name="import_report"),
    path("export.csv", views.contact_export, name="export"),
    path("consent.csv", views.consent_export, name="consent_export"),
    path("<int:pk>/", views.contact_detail, name="detail"),
    path("<int:pk>/consent/", views.contact_consent, name="consent"),
    path("<int:pk>/consent.csv", views.consent_export, name="contact_consent_export"),
    path("<int:pk>/delete/", views.contact_delete, name="delete"),
]
