"""`/messaging/dashboard/`: charts of a period's messages, delivery, failures, cost and campaign
replies, with the figures behind each chart as CSV. Reads the dashboard's day totals only."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard import charts
from dashboard.forms import DashboardForm
from dashboard.rollup import zone
from dashboard.selectors import Figures, figures_cached
from messaging.selectors.visibility import did_limit
from phone_numbers.models import Did
from portal.csv_cells import csv_lines
from portal.permissions import VIEW_INBOX
from portal.roles import role_required


def _dids_for(user) -> list[tuple[str, str]]:
    limit = did_limit(user)
    dids = Did.objects.filter(released_at__isnull=True).order_by("phonenumber")
    if limit is not None:
        dids = dids.filter(phonenumber__in=limit)
    return [(d.phonenumber, d.label) for d in dids]


@require_GET
@login_required
@role_required(VIEW_INBOX)
@vary_on_headers("HX-Request")
def dashboard(request: HttpRequest) -> HttpResponse:
    choices = _dids_for(request.user)
    form = DashboardForm(request.GET or None, dids=choices)
    days = 30
    chosen = [number for number, _ in choices]
    if form.is_bound and form.is_valid():
        days = form.days()
        chosen = form.cleaned_data["did"] or chosen
    last = timezone.localtime(timezone.now(), zone()).date()
    first = last - timedelta(days=days - 1)
    data = figures_cached(first, last, chosen)
    chart = request.GET.get("chart")
    if chart:
        return _csv(chart, data, first, last)
    labels = dict(choices)
    context = {
        "form": form,
        "figures": data,
        "first": first,
        "last": last,
        "zone": zone(),
        "query": request.GET.urlencode(),
        "charts": _charts(data, labels),
    }
    template = "dashboard/dashboard.html"
    if request.htmx:
        template += "#charts"
    return render(request, template, context)


def _charts(data: Figures, labels: dict[str, str]) -> dict:
    drawn = {
        "per_day": charts.columns(
            data.days,
            [("received", "series-in", data.inbound), ("sent", "series-out", data.outbound)],
        ),
        "delivery": charts.columns(
            data.days, [("delivered", "series-ok", data.delivery_rate)], unit="%", ceiling=1
        ),
        "cost_by_day": charts.columns(
            data.days, [("cost", "series-cost", data.cost_by_day)], unit="$"
        ),
        "failures": charts.rows([(label, n) for _, label, n in data.failures]),
        "cost_by_did": charts.rows(
            [(labels.get(did, did), cost) for did, cost in data.cost_by_did], unit="$"
        ),
        "replies": charts.rows([(c.name, replies) for c, _, replies in data.replies]),
    }
    for name in ("per_day", "delivery", "cost_by_day"):
        drawn[name]["svg"] = charts.columns_svg(drawn[name], name)
    return drawn


CSV_CHARTS = {
    "per_day": (
        ["day", "received", "sent"],
        lambda f: zip(f.days, f.inbound, f.outbound, strict=True),
    ),
    "delivery": (
        ["day", "delivered", "failed", "delivery_rate"],
        lambda f: (
            (d, ok, bad, "" if rate is None else f"{rate:.4f}")
            for d, ok, bad, rate in zip(f.days, f.delivered, f.failed, f.delivery_rate, strict=True)
        ),
    ),
    "failures": (["code", "meaning", "messages"], lambda f: f.failures),
    "cost_by_day": (["day", "cost"], lambda f: zip(f.days, f.cost_by_day, strict=True)),
    "cost_by_did": (["did", "cost"], lambda f: f.cost_by_did),
    "replies": (
        ["campaign", "texted", "replied"],
        lambda f: ((c.name, texted, replied) for c, texted, replied in f.replies),
    ),
}


def _csv(chart: str, data: Figures, first, last) -> HttpResponse:
    if chart not in CSV_CHARTS:
        raise Http404("No such chart.")
    header, rows = CSV_CHARTS[chart]
    # Campaign names are typed by people: csv_lines keeps a spreadsheet from running one.
    return HttpResponse(
        "".join(csv_lines(header, rows(data))),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{chart}-{first}-{last}.csv"'},
    )
