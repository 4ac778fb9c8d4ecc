"""PATCH semantics for the sandbox's DIDs, DID Groups and Partner: only the keys sent change;
read-only keys of the object are ignored, as the carrier ignores them; unknown keys are refused
(422) so a typo never silently does nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

from sandbox.api import validation_error
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxPartner
from sandbox.serializers import did_group_json, did_json, partner_json

MAX_URL_LENGTH = 2048
MAX_TEXT_LENGTH = 200
PARTNER_CALLBACK_KEYS = (
    "app_conference_call",
    "app_conference_meeting",
    "app_mediator",
    "sms",
    "phonenumber_order",
    "phonenumber_messaging_update",
)


def url_problem(value: object) -> str | None:
    """Why `value` cannot be a callback URL, or None when it can."""
    if not isinstance(value, str):
        return "must be a URL string or null"
    if len(value) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in value):
        return "must be an http:// or https:// URL with a host"
    return None


def _split(changes: dict, writable: set[str], known: set[str], errors: list) -> dict[str, object]:
    """The writable keys of `changes`; keys the object does not have at all are errors."""
    for key in sorted(changes.keys() - writable - known):
        errors.append((key, "is not a field of this object"))
    return {key: value for key, value in changes.items() if key in writable}


def _text(errors: list, field: str, value: object, *, nullable: bool) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
        errors.append((field, f"must be text of at most {MAX_TEXT_LENGTH} characters"))


def _check_callback_url(errors: list, updates: dict) -> None:
    url = updates.get("callback_url")
    if url is not None and (problem := url_problem(url)):
        errors.append(("callback_url", problem))


def _save(obj, updates: dict, errors: list):
    """Refuse the whole PATCH if any key was bad; else change exactly the keys sent."""
    if errors:
        raise validation_error(errors)
    for key, value in updates.items():
        setattr(obj, key, value)
    obj.save(update_fields=list(updates))
    return obj


def did_update(*, did: SandboxDid, changes: dict) -> SandboxDid:
    """Apply a `PATCH /phonenumber/dids/{did_sid}` body."""
    errors: list[tuple[str | None, str]] = []
    updates = _split(
        changes,
        {"callback_url", "did_group_sid", "name", "attributes", "string_key_1", "string_key_2"},
        set(did_json(did)),
        errors,
    )
    _check_callback_url(errors, updates)
    if "did_group_sid" in updates:
        group_sid = updates.pop("did_group_sid")
        group = None
        if group_sid is not None:
            group = SandboxDidGroup.objects.filter(
                partner=did.partner, did_group_sid=group_sid
            ).first()
            if group is None:
                errors.append(("did_group_sid", f"no DID group {group_sid!r} of this partner"))
        updates["did_group"] = group
    if "name" in updates:
        _text(errors, "name", updates["name"], nullable=False)
    for key in ("string_key_1", "string_key_2"):
        if key in updates:
            _text(errors, key, updates[key], nullable=True)
    if "attributes" in updates and not isinstance(updates["attributes"], dict):
        errors.append(("attributes", "must be a JSON object"))
    return _save(did, updates, errors)


def did_group_update(*, group: SandboxDidGroup, changes: dict) -> SandboxDidGroup:
    """Apply a `PATCH /phonenumber/did_groups/{did_group_sid}` body."""
    errors: list[tuple[str | None, str]] = []
    updates = _split(changes, {"name", "callback_url"}, set(did_group_json(group)), errors)
    _check_callback_url(errors, updates)
    if "name" in updates:
        _text(errors, "name", updates["name"], nullable=False)
    return _save(group, updates, errors)


def partner_update(*, partner: SandboxPartner, changes: dict) -> SandboxPartner:
    """Apply a `PATCH /partners/{partner_sid}` body.

    `callbacks` merges into the stored map: keys not sent are kept, a key sent as null or "" is
    removed. (The carrier's docs leave merge-or-replace open; merging is what a client that sends
    one key expects.) Sandbox-only extension: `field_naming` ("legacy" → SMS objects carry
    `from_did`/`to_did`; "current" → `from`/`to`) switches how this partner's messages are written.
    """
    errors: list[tuple[str | None, str]] = []
    updates = _split(changes, {"callbacks", "field_naming"}, set(partner_json(partner)), errors)
    naming = updates.get("field_naming", SandboxPartner.FieldNaming.LEGACY)
    if naming not in SandboxPartner.FieldNaming.values:
        errors.append(("field_naming", "must be 'legacy' or 'current'"))
    if "callbacks" in updates:
        callbacks = updates["callbacks"]
        if not isinstance(callbacks, dict):
            errors.append(("callbacks", "must be a JSON object of event type → URL"))
            callbacks = {}
        merged = dict(partner.callbacks or {})
        for key, url in callbacks.items():
            if key not in PARTNER_CALLBACK_KEYS:
                errors.append(
                    (f"callbacks.{key}", f"unknown; use one of {', '.join(PARTNER_CALLBACK_KEYS)}")
                )
            elif url in (None, ""):
                merged.pop(key, None)
            elif problem := url_problem(url):
                errors.append((f"callbacks.{key}", problem))
            else:
                merged[key] = url
        updates["callbacks"] = merged
    return _save(partner, updates, errors)
