from __future__ import annotations

from django.urls import path

from campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("lists/<int:pk>/", views.campaign_list_read, name="list_read"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/preview/", views.campaign_preview, name="preview"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/delete/", views.campaign_delete, name="delete"),
    path("<int:pk>/start/", views.campaign_start, name="start"),
    path("<int:pk>/pause/", views.campaign_pause, name="pause"),
    path("<int:pk>/resume/", views.campaign_resume, name="resume"),
    path("<int:pk>/cancel/", views.campaign_cancel, name="cancel"),
    path("<int:pk>/report/", views.campaign_report, name="report"),
    path("<int:pk>/report.csv", views.campaign_export, name="export"),
]
