"""The Campaigns pages (/messaging/campaigns/): the list, New campaign, a long list's reading
progress, a draft's preview, the campaign's live progress, its per-recipient report and CSV
export.

Who may use them: whoever may send a text (the Senders role). The pages read the local copy only;
the carrier is reached by the dispatcher's tasks, never by a page.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from campaigns import selectors, services
from campaigns.forms import CampaignForm
from campaigns.lists import (
    campaign_list_read_start,
    list_read_progress,
    list_reads_pending,
)
from campaigns.models import Campaign, ListRead, Recipient
from contacts.selectors import contact_names, with_contact_names
from messaging.models import SavedReply, Status
from messaging.selectors.paging import MAX_ID, parse_id
from messaging.selectors.visibility import sender_dids
from portal.csv_cells import csv_lines
from portal.permissions import SEND_MESSAGE
from portal.phones import format_number
from portal.roles import role_required

PAGE_SIZE = 50
REPORT_PAGE_SIZE = 100

senders_only = role_required(SEND_MESSAGE)


def _campaign_or_404(pk: int) -> Campaign:
    if not 0 < pk <= MAX_ID:
        raise Http404("No such campaign.")
    campaign = Campaign.objects.filter(pk=pk).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _draft_or_redirect(pk: int) -> Campaign | HttpResponse:
    campaign = _campaign_or_404(pk)
    if campaign.state != Campaign.State.DRAFT:
        return redirect(campaign)
    return campaign


@require_GET
@login_required
@senders_only
def campaign_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.campaigns_for_list()
    before = parse_id(request.GET.get("before", ""))
    if before is not None:
        rows = rows.filter(id__lt=before)
    fetched = list(rows[: PAGE_SIZE + 1])
    page = fetched[:PAGE_SIZE]
    return render(
        request,
        "campaigns/list.html",
        {
            "campaigns": page,
            "older_before": page[-1].pk if len(fetched) > PAGE_SIZE else "",
            "paged": before is not None,
        },
    )


def _form_page(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    dids = sender_dids(request.user).dids
    instance = campaign or Campaign(created_by=request.user)
    initial = {}
    picked = parse_id(request.GET.get("saved_reply", ""))
    if picked is not None and (reply := SavedReply.objects.filter(pk=picked).first()):
        # The Saved replies picker without JavaScript: its text fills the Message box.
        initial["body"] = reply.body
    form = CampaignForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        instance=instance,
        dids=dids,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        draft = form.save(commit=False)
        if form.background:
            job = campaign_list_read_start(
                campaign=draft,
                upload=form.cleaned_data.get("recipients_file") or None,
                pasted=(form.cleaned_data.get("numbers") or "").strip(),
                user=request.user,
            )
            return redirect("campaigns:list_read", pk=job.pk)
        people = form.people or selectors.recipient_list_of(draft)
        services.campaign_draft_save(draft, people)
        return redirect("campaigns:preview", pk=draft.pk)
    replies = list(SavedReply.objects.only("pk", "name", "body"))
    return render(
        request,
        "campaigns/form.html",
        {
            "form": form,
            "campaign": campaign,
            "has_dids": bool(dids),
            "saved_replies": replies,
            "saved_reply_bodies": {str(r.pk): r.body for r in replies},
            "saved_reply_picked": picked,
        },
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
@senders_only
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@require_http_methods(["GET", "POST"])
@login_required
@senders_only
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    draft = _draft_or_redirect(pk)
    if isinstance(draft, HttpResponse):
        messages.info(request, "Only a draft can be edited; this campaign has started.")
        return draft
    return _form_page(request, draft)


@require_http_methods(["GET", "POST"])
@login_required
@senders_only
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    draft = _draft_or_redirect(pk)
    if isinstance(draft, HttpResponse):
        messages.info(request, "Only a draft can be deleted; cancel a started campaign instead.")
        return draft
    if request.method == "POST":
        name = draft.name
        services.campaign_draft_delete(draft)
        messages.success(request, f"Deleted the draft “{name}”; nobody was texted.")
        return redirect("campaigns:list")
    return render(request, "campaigns/confirm_delete.html", {"campaign": draft})


@require_GET
@login_required
@senders_only
@vary_on_headers("HX-Request")
def campaign_list_read(request: HttpRequest, pk: int) -> HttpResponse:
    """A long list being read by the worker: rows read of the total, polled every second; once
    read, on to the campaign's preview (htmx follows HX-Redirect)."""
    job = ListRead.objects.filter(pk=pk).first() if pk <= MAX_ID else None
    if job is None:
        raise Http404("No such list.")
    if job.state == ListRead.State.DONE and job.campaign_id is not None:
        preview = reverse("campaigns:preview", args=[job.campaign_id])
        if request.htmx:
            return HttpResponseClientRedirect(preview)
        return redirect(preview)
    context = {"job": job, **list_read_progress(job)}
    if request.htmx:
        response = render(request, "campaigns/list_read.html#read-status", context)
        if context["failed"]:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "campaigns/list_read.html", context)


@require_GET
@login_required
@senders_only
def campaign_preview(request: HttpRequest, pk: int) -> HttpResponse:
    draft = _draft_or_redirect(pk)
    if isinstance(draft, HttpResponse):
        return draft
    preview = selectors.campaign_preview(draft)
    return render(
        request,
        "campaigns/preview.html",
        {
            "campaign": draft,
            "reading": list_reads_pending(draft)[:1],
            "preview": preview,
            "reasons": [
                (reason.value, reason.label, preview.removed[reason.value])
                for reason in Recipient.Reason
            ],
            "dids": [format_number(n) for n in draft.dids],
        },
    )


@require_POST
@login_required
@senders_only
def campaign_start(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign_or_404(pk)
    reading = list_reads_pending(campaign) if campaign.state == Campaign.State.DRAFT else []
    if reading:
        messages.error(
            request,
            "Not started: its new list is still being read. Start it from the preview once the "
            "list is read.",
        )
        return redirect("campaigns:list_read", pk=reading[0].pk)
    if (
        campaign.state == Campaign.State.DRAFT
        and not campaign.recipients.filter(state=Recipient.State.PENDING).exists()
    ):
        messages.error(request, "Nobody is left to text on this list: edit the draft first.")
        return redirect("campaigns:preview", pk=campaign.pk)
    if campaign.start_at is not None and campaign.start_at <= timezone.now():
        # Previewed past its start time: it goes now rather than waiting for a moment gone.
        Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.DRAFT).update(start_at=None)
        campaign.start_at = None
    before = campaign.state
    campaign = services.campaign_start(campaign)
    if before == Campaign.State.DRAFT and campaign.state == Campaign.State.SCHEDULED:
        messages.success(request, "Scheduled: the campaign starts at its time.")
    elif before == Campaign.State.DRAFT:
        messages.success(request, "Started: texts go out at each DID's pace.")
    return redirect(campaign)


@require_GET
@login_required
@senders_only
@vary_on_headers("HX-Request")
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign_or_404(pk)
    if campaign.state == Campaign.State.DRAFT and not request.htmx:
        return redirect("campaigns:preview", pk=campaign.pk)
    progress = selectors.campaign_progress(campaign)
    now = timezone.now()
    finish_at = progress.finish_at(now) if campaign.state == Campaign.State.RUNNING else None
    context = {
        "campaign": campaign,
        "progress": progress,
        "finish_at": finish_at,
        "finish_in": _duration(finish_at - now) if finish_at else "",
        "live": campaign.is_active,
    }
    if request.htmx:
        response = render(request, "campaigns/detail.html#progress", context)
        if not campaign.is_active:
            # Nothing will change any more: htmx stops polling.
            response.status_code = HttpResponseStopPolling.status_code
        return response
    context["dids"] = [format_number(n) for n in campaign.dids]
    return render(request, "campaigns/detail.html", context)


def _duration(left) -> str:
    seconds = left.total_seconds()
    if seconds < 60:
        return "in under a minute"
    if seconds < 3600:
        return f"in about {round(seconds / 60)} min"
    return f"in about {seconds / 3600:.1f} h"


def _action(request: HttpRequest, pk: int, act, done: str, refused: str) -> HttpResponse:
    campaign = _campaign_or_404(pk)
    if act(campaign):
        messages.success(request, done)
    else:
        campaign.refresh_from_db()
        messages.info(request, refused.format(state=campaign.get_state_display().lower()))
    return redirect(campaign)


@require_POST
@login_required
@senders_only
def campaign_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        services.campaign_pause,
        "Paused: no more texts go out until you press Resume.",
        "Not paused: the campaign is {state}.",
    )


@require_POST
@login_required
@senders_only
def campaign_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        services.campaign_resume,
        "Resumed: texts go out again at each DID's pace.",
        "Not resumed: the campaign is {state}.",
    )


@require_http_methods(["GET", "POST"])
@login_required
@senders_only
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign_or_404(pk)
    if request.method == "GET":
        if campaign.state == Campaign.State.DRAFT:
            return redirect("campaigns:delete", pk=campaign.pk)
        return render(
            request,
            "campaigns/confirm_cancel.html",
            {"campaign": campaign, "progress": selectors.campaign_progress(campaign, rate=0)},
        )
    was_active = campaign.is_active
    cancelled = services.campaign_cancel(campaign)
    if was_active:
        messages.success(
            request,
            f"Cancelled: {cancelled:,} recipient{'' if cancelled == 1 else 's'} still waiting "
            "will not be texted. Texts already sent are not recalled.",
        )
    else:
        campaign.refresh_from_db()
        state = campaign.get_state_display().lower()
        messages.info(request, f"Nothing to cancel: the campaign is {state}.")
    return redirect(campaign)


@require_GET
@login_required
@senders_only
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign_or_404(pk)
    status = request.GET.get("status", "")
    if status not in selectors.REPORT_FILTERS:
        status = ""
    after = parse_id(request.GET.get("after", ""))
    rows, next_after = selectors.report_page(
        selectors.report_rows(campaign, status), after=after, size=REPORT_PAGE_SIZE
    )
    names = contact_names(r.number for r in rows)
    for r in rows:
        r.status_key, r.status_words = selectors.recipient_status(r)
        r.our_formatted = format_number(r.our_number) if r.our_number else ""
        r.contact_name = names.get(r.number, "")
    return render(
        request,
        "campaigns/report.html",
        {
            "campaign": campaign,
            "rows": rows,
            "status": status,
            "filters": [(k, label) for k, (label, _) in selectors.REPORT_FILTERS.items()],
            "next_after": next_after,
            "paged": after is not None,
            "columns": campaign.columns,
        },
    )


def _report_lines(campaign: Campaign, status: str) -> Iterator[str]:
    columns = list(campaign.columns or [])
    head = ["row", "number", "as_written", *columns, "contact_name", "our_did", "status"]
    head += ["reason", "error"]
    head += ["message_sid", "segments", "price", "sent_at"]

    def cells(r, contact_name: str):
        m = r.message
        key, _ = selectors.recipient_status(r)
        sent_at = timezone.localtime(m.created_at).isoformat(timespec="seconds") if m else ""
        return [
            r.row,
            r.number,
            r.raw_number,
            *((r.variables or {}).get(c, "") for c in columns),
            contact_name,
            r.our_number,
            key,
            r.reason,
            (m.failure_line if m.status == Status.FAILED else m.error) if m else "",
            (m.message_sid or "") if m else "",
            m.segments if m and m.segments is not None else "",
            m.price if m and m.price is not None else "",
            sent_at,
        ]

    rows = selectors.report_rows(campaign, status).iterator(chunk_size=2000)
    named = with_contact_names(rows, lambda r: r.number)
    return csv_lines(head, (cells(r, name) for r, name in named))


@require_GET
@login_required
@senders_only
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign_or_404(pk)
    status = request.GET.get("status", "")
    if status not in selectors.REPORT_FILTERS:
        status = ""
    filename = f"campaign-{campaign.pk}-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        _report_lines(campaign, status),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
