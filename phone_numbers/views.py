from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from phone_numbers.models import Did


@require_GET
@login_required
def number_list(request: HttpRequest) -> HttpResponse:
    return render(request, "numbers/list.html", {"dids": Did.objects.select_related("group")})


@require_GET
@login_required
def number_detail(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = get_object_or_404(Did.objects.select_related("group"), did_sid=did_sid)
    return render(request, "numbers/detail.html", {"did": did})
