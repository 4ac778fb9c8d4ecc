"""Changing callbacks and groups: Edit → SMS Callback URL → Save for a DID, a DID Group and the
Partner, the one-click "Point at this portal", the confirm step before a Clear, and the banner's
"fix them all" button.

Every view here needs `numbers.change_callbacks` (the Number admins role), checked in the view.
Each serves both the full page (no JavaScript: plain POST, redirect after success) and the htmx
fragment (the panel that swaps in place), from the same template partial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from phone_numbers.forms import CallbackURLForm, DidGroupForm
from phone_numbers.models import Did, DidGroup
from phone_numbers.selectors import (
    did_partner,
    partner_current,
    partner_dids_without_own_callback,
    portal_webhook_url,
)
from phone_numbers.services import (
    ChangeNotMade,
    callbacks_point_here,
    did_set_callback,
    did_set_group,
    group_set_callback,
    partner_set_sms_callback,
)
from phone_numbers.views import back_to, did_panel, group_panel, panel_template, partner_panel
from portal.lookups import sid_or_404
from portal.permissions import CHANGE_CALLBACKS
from portal.roles import role_required

# What a person types to clear the partner's callback: it cuts inbound for many numbers at once.
CLEAR_WORD = "CLEAR"


@dataclass(frozen=True)
class ClearQuestion:
    """The confirm step before a callback URL is cleared: what stops working, and for the biggest
    one the word to type."""

    consequence: str
    word: str = ""
    error: str = ""


def _callback_form(request: HttpRequest, current: str) -> CallbackURLForm:
    if request.method != "POST":
        return CallbackURLForm(initial={"callback_url": current})
    # The one-click buttons send an action rather than a typed URL; the result is validated the
    # same way, so every URL that reaches the carrier has passed the one validator.
    action = request.POST.get("action")
    if action == "clear":
        return CallbackURLForm({"callback_url": ""})
    if action == "point":
        return CallbackURLForm({"callback_url": portal_webhook_url()})
    return CallbackURLForm(request.POST)


def _clear_answer(request: HttpRequest, question: ClearQuestion) -> ClearQuestion | None:
    """None when the person confirmed the clear; else the question to (re)ask."""
    if request.POST.get("confirm") != "yes":
        return question
    if question.word and request.POST.get("confirm_word", "").strip().upper() != question.word:
        error = f"Type {question.word} to confirm; nothing was changed."
        return ClearQuestion(question.consequence, question.word, error)
    return None


def _saved_notice(url: str) -> str:
    if not url:
        return "CarrierX accepted the change: the SMS Callback URL is cleared."
    return "CarrierX accepted the new SMS Callback URL."


def _edit_callback(
    request: HttpRequest,
    *,
    template: str,
    panel: Callable[[], dict],
    current: str,
    save: Callable[[str], object],
    done_url: str,
    clearing: Callable[[], ClearQuestion],
) -> HttpResponse:
    """The shared Edit → SMS Callback URL → Save flow of DIDs, groups and the partner.

    `panel()` builds the panel's context (called after a save, so it shows the carrier's answer);
    `save(url)` is the service call, which raises ChangeNotMade with the carrier's reason;
    `clearing()` says what clearing the URL would stop, asked before any clear goes through
    (the Clear button and a Save of an empty field alike).
    """
    form = _callback_form(request, current)
    status = 200
    if request.method == "POST" and form.is_valid():
        url = form.cleaned_data["callback_url"]
        question = _clear_answer(request, clearing()) if current and not url else None
        if question is not None:
            context = {**panel(), "clear_question": question}
            status = 422 if question.error and not request.htmx else 200
            return render(request, panel_template(request, template), context, status=status)
        try:
            save(url)
        except ChangeNotMade as err:
            form.add_error(None, str(err))
        else:
            notice = _saved_notice(url)
            if request.htmx:
                context = {**panel(), "notice": notice}
                return render(request, panel_template(request, template), context)
            messages.success(request, notice)
            return redirect(done_url)
    # htmx swaps only 2xx answers, so an htmx form with errors comes back 200; a plain POST
    # with errors says 422, as the Messaging page does.
    if request.method == "POST" and not request.htmx:
        status = 422
    return render(
        request,
        panel_template(request, template),
        {**panel(), "form": form, "editing": True},
        status=status,
    )


def _lost_to(url: str, source: str) -> str:
    if url:
        return f"CarrierX will send them to {source}'s URL instead, {url}"
    return (
        "CarrierX will send them to no one: inbound texts are lost, and the portal stops "
        "learning whether the messages it sent were delivered"
    )


# --- A DID -------------------------------------------------------------------------------------


def _did_clearing(did: Did) -> ClearQuestion:
    group_url = did.group.callback_url if did.group else ""
    partner = did_partner(did)
    partner_url = partner.sms_callback_url if partner else ""
    if group_url:
        after = _lost_to(group_url, "its DID Group")
    else:
        after = _lost_to(partner_url, "the partner")
    return ClearQuestion(
        f"{did.formatted} loses its own SMS Callback URL, where CarrierX sends its texts and "
        f"status reports. {after}."
    )


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_CALLBACKS)
@vary_on_headers("HX-Request")
def did_callback_edit(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = get_object_or_404(Did.objects.select_related("group"), did_sid=sid_or_404(did_sid))
    return _edit_callback(
        request,
        template="numbers/detail.html",
        panel=lambda: did_panel(did_sid),
        current=did.callback_url,
        save=lambda url: did_set_callback(did=did, url=url, user=request.user),
        done_url=did.get_absolute_url(),
        clearing=lambda: _did_clearing(did),
    )


@require_POST
@login_required
@role_required(CHANGE_CALLBACKS)
@vary_on_headers("HX-Request")
def did_group_edit(request: HttpRequest, did_sid: str) -> HttpResponse:
    did = get_object_or_404(Did.objects.select_related("group"), did_sid=sid_or_404(did_sid))
    form = DidGroupForm(request.POST)
    notice = error = ""
    if not form.is_valid():
        error = "Pick a DID group from the list."
    else:
        group = form.cleaned_data["did_group_sid"]
        try:
            did_set_group(did=did, group=group, user=request.user)
        except ChangeNotMade as err:
            error = str(err)
        else:
            notice = f"Moved into {group}." if group else "Moved out of its DID group."
    if request.htmx:
        return render(
            request,
            "numbers/detail.html#callback-panel",
            {**did_panel(did_sid), "notice": notice, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(did)


# --- A DID Group -------------------------------------------------------------------------------


def _group_clearing(group: DidGroup) -> ClearQuestion:
    following = [did for did in group.dids.all() if did.texts and not did.callback_url]
    if not following:
        return ClearQuestion(
            "No SMS number in this group uses the group's URL (each has its own), so no number "
            "loses its callback."
        )
    partner = did_partner(following[0])
    after = _lost_to(partner.sms_callback_url if partner else "", "the partner")
    count = len(following)
    return ClearQuestion(
        f"{count} SMS number{pluralize(count)} in this group use{pluralize(count, 's,')} the "
        f"group's URL. {after}."
    )


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_CALLBACKS)
@vary_on_headers("HX-Request")
def group_callback_edit(request: HttpRequest, did_group_sid: str) -> HttpResponse:
    group = get_object_or_404(DidGroup, did_group_sid=sid_or_404(did_group_sid))
    return _edit_callback(
        request,
        template="numbers/group_detail.html",
        panel=lambda: group_panel(did_group_sid),
        current=group.callback_url,
        save=lambda url: group_set_callback(group=group, url=url, user=request.user),
        done_url=group.get_absolute_url(),
        clearing=lambda: _group_clearing(group),
    )


# --- The Partner -------------------------------------------------------------------------------


def _partner_clearing(partner) -> ClearQuestion:
    count = partner_dids_without_own_callback(partner)
    their = pluralize(count, "its,their")
    return ClearQuestion(
        f"{count} SMS number{pluralize(count)} with no SMS Callback URL of {their} own or from a "
        f"DID Group will lose {their} callback: CarrierX will send their texts and status "
        "reports to no one, so inbound messages are lost and the portal stops learning whether "
        "sent messages were delivered.",
        word=CLEAR_WORD,
    )


@require_http_methods(["GET", "POST"])
@login_required
@role_required(CHANGE_CALLBACKS)
@vary_on_headers("HX-Request")
def partner_callback_edit(request: HttpRequest) -> HttpResponse:
    partner = partner_current()
    if partner is None:
        raise Http404("No partner yet: sync with CarrierX first.")
    return _edit_callback(
        request,
        template="numbers/partner_callbacks.html",
        panel=partner_panel,
        current=partner.sms_callback_url,
        save=lambda url: partner_set_sms_callback(
            partner=partner,
            url=url,
            user=request.user,
            with_number_callbacks=request.POST.get("action") == "point",
        ),
        done_url=reverse("numbers:partner_callbacks"),
        clearing=lambda: _partner_clearing(partner),
    )


# --- The banner's button -------------------------------------------------------------------------


@require_POST
@login_required
@role_required(CHANGE_CALLBACKS)
def callbacks_fix(request: HttpRequest) -> HttpResponse:
    problems = callbacks_point_here(user=request.user)
    if problems:
        messages.error(request, "Not every callback could be fixed: " + " ".join(problems))
    else:
        messages.success(request, "Every SMS number's callback now reaches this portal.")
    return back_to(request, "numbers:list")
