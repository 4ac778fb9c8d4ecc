"""The Contacts pages (/contacts/): the list and its search, a contact (edit, delete, its
consent record), CSV import with its per-row report, and the CSV exports.

Who may use them: Inbox staff (and superusers), who read the conversations the names belong to.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from contacts import consent, selectors, services
from contacts.forms import ContactForm, ImportForm, StaffConsentForm
from contacts.imports import contact_import_start
from contacts.models import Contact
from messaging.models import ConsentEvent
from messaging.selectors.paging import keyset_page, parse_id
from messaging.selectors.visibility import conversations_visible_to
from portal.csv_cells import csv_lines
from portal.permissions import VIEW_INBOX
from portal.phones import format_number, normalize_number
from portal.roles import role_required

PAGE_SIZE = 50
CONSENT_SHOWN = 200  # on the page; the export holds the whole record
MAX_QUERY = 100

inbox_staff_only = role_required(VIEW_INBOX)


@require_GET
@login_required
@inbox_staff_only
def contact_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:MAX_QUERY]
    before = request.GET.get("before", "")
    rows, more = keyset_page(
        selectors.contacts_matching(query).prefetch_related("tag_rows"),
        size=PAGE_SIZE,
        before=before,
    )
    return render(
        request,
        "contacts/list.html",
        {
            "contacts": rows,
            "query": query,
            "query_string": urlencode({"q": query}) if query else "",
            "older_before": rows[-1].pk if more else "",
            "paged": parse_id(before) is not None,
        },
    )


def _save(request: HttpRequest, form: ContactForm) -> Contact:
    return services.contact_save(
        contact=form.save(commit=False),
        tags=form.cleaned_data["tags"],
        fields=form.cleaned_data["extra_fields"],
        user=request.user,
    )


@require_http_methods(["GET", "POST"])
@login_required
@inbox_staff_only
def contact_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            contact = _save(request, form)
            messages.success(request, f"Contact {contact} added.")
            return redirect("contacts:detail", pk=contact.pk)
    else:
        initial = {}
        typed = request.GET.get("number", "")[:40]
        if typed:
            try:
                number = normalize_number(typed)
            except ValidationError:
                number = ""
            existing = selectors.contact_for_number(number) if number else None
            if existing is not None:
                # "Add contact" from a conversation whose number has one by now: show that one.
                return redirect("contacts:detail", pk=existing.pk)
            initial["number"] = format_number(number) if number else typed
        form = ContactForm(initial=initial)
    return render(request, "contacts/form.html", {"form": form})


@require_POST
@login_required
@inbox_staff_only
def contact_add(request: HttpRequest) -> HttpResponse:
    """ "Add contact" in a conversation's header: one click makes the contact for the customer's
    number and opens it with the name field ready (a text carries no name to fill in)."""
    typed = request.POST.get("number", "")[:40]
    try:
        number = normalize_number(typed)
    except ValidationError:
        messages.error(request, "That is not a phone number: nothing was added.")
        return redirect(f"{reverse('contacts:new')}?{urlencode({'number': typed})}")
    contact, created = services.contact_for_number_add(number=number, user=request.user)
    if not created:
        return redirect("contacts:detail", pk=contact.pk)
    messages.success(request, f"Contact added for {contact.number_formatted}. Give it a name.")
    return redirect(f"{reverse('contacts:detail', args=[contact.pk])}?added=1")


def _detail_context(request: HttpRequest, contact: Contact, **extra) -> dict:
    return {
        "contact": contact,
        "has_conversation": conversations_visible_to(request.user)
        .filter(customer_number=contact.number)
        .exists(),
        "consent_events": list(consent.consent_events(contact.number)[: CONSENT_SHOWN + 1]),
        "consent_shown": CONSENT_SHOWN,
        "form": extra.pop("form", None) or ContactForm(instance=contact),
        "consent_form": extra.pop("consent_form", None) or StaffConsentForm(),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@login_required
@inbox_staff_only
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_or_404(pk)
    if request.method == "POST":
        form = ContactForm(request.POST, instance=contact)
        if form.is_valid():
            _save(request, form)
            messages.success(request, "Saved.")
            return redirect("contacts:detail", pk=contact.pk)
        # The heading keeps the stored name while the form shows what was typed.
        contact = selectors.contact_or_404(pk)
        return render(request, "contacts/detail.html", _detail_context(request, contact, form=form))
    form = ContactForm(instance=contact)
    if request.GET.get("added"):
        form.fields["name"].widget.attrs["autofocus"] = True
        form.fields["name"].help_text = "New contact: the name the team should see instead."
    return render(request, "contacts/detail.html", _detail_context(request, contact, form=form))


@require_POST
@login_required
@inbox_staff_only
def contact_consent(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_or_404(pk)
    form = StaffConsentForm(request.POST)
    if not form.is_valid():
        return render(
            request, "contacts/detail.html", _detail_context(request, contact, consent_form=form)
        )
    result = consent.consent_staff_record(
        customer=contact.number,
        our_number=form.cleaned_data["our_number"],
        kind=form.cleaned_data["kind"],
        reason=form.cleaned_data["reason"],
        user=request.user,
    )
    if result.event.kind == ConsentEvent.Kind.OPT_OUT:
        messages.success(request, f"Recorded: {contact} opted out. Nothing more is sent to them.")
    elif result.still_opted_out:
        dids = ", ".join(format_number(did) for did in result.still_opted_out)
        messages.warning(
            request,
            f"Recorded the opt-in, but {contact} texted STOP to {dids} and only their own START "
            "lifts that: nothing is sent to them from there until they text START.",
        )
    else:
        messages.success(request, f"Recorded: {contact} opted in.")
    return redirect("contacts:detail", pk=contact.pk)


@require_http_methods(["GET", "POST"])
@login_required
@inbox_staff_only
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_or_404(pk)
    if request.method == "POST":
        name = str(contact)
        services.contact_delete(contact=contact)
        messages.success(request, f"Contact {name} deleted.")
        return redirect("contacts:list")
    return render(request, "contacts/confirm_delete.html", {"contact": contact})


@require_http_methods(["GET", "POST"])
@login_required
@inbox_staff_only
def contact_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = contact_import_start(
            data=form.file_bytes, filename=form.cleaned_data["file"].name, user=request.user
        )
        return redirect("contacts:import_report", pk=job.pk)
    return render(request, "contacts/import.html", {"form": form})


@require_GET
@login_required
@inbox_staff_only
@vary_on_headers("HX-Request")
def contact_import_report(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.contact_import_or_404(pk)
    template = "contacts/import_report.html"
    if request.htmx:
        template += "#import-status"
    return render(request, template, {"job": job, **selectors.import_progress(job)})


def _csv_response(lines, name: str) -> StreamingHttpResponse:
    filename = f"{name}-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        lines,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@require_GET
@login_required
@inbox_staff_only
def contact_export(request: HttpRequest) -> HttpResponse:
    header, rows = selectors.contacts_export_rows(Contact.objects.order_by("id"))
    return _csv_response(csv_lines(header, rows), "contacts")


@require_GET
@login_required
@inbox_staff_only
def consent_export(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The consent record as CSV: everyone's, or one contact's (`pk`)."""
    customer = selectors.contact_or_404(pk).number if pk is not None else None
    events = consent.consent_events(customer)
    name = f"consent-{customer}" if customer else "consent"
    return _csv_response(
        csv_lines(consent.EXPORT_HEADER, consent.consent_export_rows(events)), name
    )
