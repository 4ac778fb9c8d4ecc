"""Password reset by email: offered only when the portal can send mail, and throttled.

Without EMAIL_URL every reset URL answers 404 and the login page has no link to them: a form that
promises a mail that never comes only confuses people. With it, each email address may be asked
for PASSWORD_RESET_PER_EMAIL_PER_HOUR times an hour and each client address may ask
PASSWORD_RESET_PER_ADDRESS_PER_HOUR times, so the form cannot flood a mailbox or our mail server.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from portal.models import PasswordResetRequest
from portal.proxy import client_ip

WINDOW = timedelta(hours=1)


def email_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.EMAIL_CONFIGURED:
            raise Http404("Password reset needs email (EMAIL_URL).")
        return view(request, *args, **kwargs)

    return wrapper


def _address(request: HttpRequest) -> str:
    if settings.BEHIND_TLS_PROXY:
        return client_ip(request) or ""
    return request.META.get("REMOTE_ADDR", "")


def password_reset_allow(*, email: str, address: str) -> bool:
    """Count one request for `email` from `address` unless either is over its hourly limit."""
    now = timezone.now()
    PasswordResetRequest.objects.filter(at__lt=now - WINDOW).delete()
    recent = PasswordResetRequest.objects.filter(at__gte=now - WINDOW)
    if recent.filter(email=email).count() >= settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR:
        return False
    if (
        address
        and recent.filter(address=address).count() >= settings.PASSWORD_RESET_PER_ADDRESS_PER_HOUR
    ):
        return False
    PasswordResetRequest.objects.create(at=now, email=email, address=address)
    return True


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form: Any) -> HttpResponse:
        # Counted whether or not an account has the address, so the answer says nothing about
        # which addresses have accounts.
        email = form.cleaned_data["email"].strip().lower()
        if not password_reset_allow(email=email, address=_address(self.request)):
            return render(self.request, "registration/password_reset_throttled.html", status=429)
        return super().form_valid(form)


urlpatterns = [
    path(
        "password_reset/",
        email_required(ThrottledPasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        email_required(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        email_required(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        email_required(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]


def context(request: HttpRequest) -> dict:
    """For templates: whether to offer the reset link (login page, lockout page)."""
    return {"password_reset_offered": settings.EMAIL_CONFIGURED}
