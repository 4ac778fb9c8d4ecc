"""Saved replies: the team's texts with `{placeholders}`, listed, created, edited and deleted
here, and picked from the composers (the Messaging page and a conversation's reply box).

Who may do what: everyone who may send a text (Senders, who use the Messaging page, and Inbox
staff, who reply in conversations) may see the list, use a saved reply and create one. Editing
and deleting change what the whole team sends, so they are left to the reply's author and to
administrators (superusers), who can do everything.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from messaging.models import SavedReply
from messaging.selectors.paging import parse_id
from messaging.text_templates import placeholders
from messaging.widgets import ComposerTextarea
from portal.permissions import SEND_MESSAGE, VIEW_INBOX

USE_REASON = (
    "Saved replies are for people who send texts (the Senders or Inbox staff role); "
    "ask an administrator."
)
EDIT_REASON = "Only the person who created this saved reply, or an administrator, can change it."


def may_use(user) -> bool:
    return user.has_perm(SEND_MESSAGE) or user.has_perm(VIEW_INBOX)


def may_edit(user, reply: SavedReply) -> bool:
    return user.is_superuser or (reply.created_by_id is not None and reply.created_by_id == user.pk)


def _use_required(request: HttpRequest) -> None:
    if not may_use(request.user):
        raise PermissionDenied(USE_REASON)


class SavedReplyForm(forms.ModelForm):
    class Meta:
        model = SavedReply
        fields = ["name", "body"]
        labels = {"body": "Text"}
        help_texts = {
            "name": "What the team picks it by in the composer.",
            "body": "Write {first_name}-style placeholders for what changes per customer: the "
            "composer asks for them to be filled in before sending. {{ and }} are literal braces.",
        }
        widgets = {"body": ComposerTextarea(attrs={"rows": 5})}
        error_messages = {
            "name": {
                "unique": "A saved reply with this name exists already: pick another name.",
                "required": "Give it a name.",
            },
            "body": {"required": "Type the text of the reply."},
        }

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give it a name.")
        return name

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        if not body.strip():
            raise forms.ValidationError("Type the text of the reply.")
        return body


def picker_context(request: HttpRequest) -> dict:
    """What a composer's Saved replies picker needs: the replies (their texts go into the page,
    so the picker's script fills the Message box without another request), and the text of the
    one chosen with `?saved_reply=` (the picker without JavaScript)."""
    replies = list(SavedReply.objects.only("pk", "name", "body"))
    chosen = parse_id(request.GET.get("saved_reply", ""))
    picked = next((r for r in replies if r.pk == chosen), None)
    return {
        "saved_replies": replies,
        "saved_reply_bodies": {str(r.pk): r.body for r in replies},
        "saved_reply_picked": picked,
    }


@require_GET
@login_required
def saved_replies(request: HttpRequest) -> HttpResponse:
    _use_required(request)
    replies = list(SavedReply.objects.select_related("created_by"))
    for reply in replies:
        reply.names = placeholders(reply.body)
        reply.editable = may_edit(request.user, reply)
    return render(request, "messaging/saved_replies.html", {"replies": replies})


@require_http_methods(["GET", "POST"])
@login_required
def saved_reply_new(request: HttpRequest) -> HttpResponse:
    _use_required(request)
    form = SavedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reply = form.save(commit=False)
        reply.created_by = request.user
        reply.save()
        messages.success(request, f"Saved “{reply.name}”; pick it under Saved replies to use it.")
        return redirect("messaging:saved_replies")
    return render(
        request,
        "messaging/saved_reply_form.html",
        {"form": form, "reply": None},
        status=422 if form.errors else 200,
    )


def _editable_or_403(request: HttpRequest, pk: int) -> SavedReply:
    _use_required(request)
    if parse_id(str(pk)) is None:
        raise Http404("No such saved reply.")
    reply = get_object_or_404(SavedReply, pk=pk)
    if not may_edit(request.user, reply):
        raise PermissionDenied(EDIT_REASON)
    return reply


@require_http_methods(["GET", "POST"])
@login_required
def saved_reply_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reply = _editable_or_403(request, pk)
    form = SavedReplyForm(request.POST or None, instance=reply)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved “{reply.name}”.")
        return redirect("messaging:saved_replies")
    return render(
        request,
        "messaging/saved_reply_form.html",
        {"form": form, "reply": reply},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def saved_reply_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reply = _editable_or_403(request, pk)
    if request.method == "POST":
        name = reply.name
        reply.delete()
        messages.success(request, f"Deleted the saved reply “{name}”.")
        return redirect("messaging:saved_replies")
    return render(request, "messaging/saved_reply_delete.html", {"reply": reply})
