"""The sandbox is removable: it imports nothing of the portal's apps, it shares only the
Django-free segment table, and with a real carrier token it is not installed at all (no model in
the admin, no URL, no migration needed) while every portal page still renders."""

from __future__ import annotations

import ast
import json
import secrets
import subprocess
import sys

from tests.conftest import PROJECT_PACKAGES
from tests.test_security import BASE_DIR, run_django

# Everything of ours but the sandbox and the django-free segment counter both sides share.
PORTAL_APPS = tuple(p for p in PROJECT_PACKAGES if p not in ("sandbox", "sms_segments"))


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_the_sandbox_imports_the_portal():
    offenders = {
        str(path.relative_to(BASE_DIR)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in PORTAL_APPS
        )
        for path in (BASE_DIR / "sandbox").rglob("*.py")
    }

    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_portal_apps_import_nothing_of_the_sandbox():
    offenders = {
        str(path.relative_to(BASE_DIR)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "sandbox"
        )
        for app in (*PORTAL_APPS, "sms_segments")
        for path in (BASE_DIR / app).rglob("*.py")
    }

    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_sandbox_and_the_composer_count_with_one_django_free_table():
    script = (
        "import sys, sms_segments; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    import messaging.segments
    import sandbox.sms
    import sms_segments

    assert sandbox.sms.count_segments is sms_segments.count_segments
    assert messaging.segments.count_segments is sms_segments.count_segments
    assert messaging.segments.segment_table() == sms_segments.segment_table()


# What a real-carrier install sees: run in a fresh interpreter, as `manage.py` would start.
WITHOUT_SANDBOX = r"""
import json, sys
import django
django.setup()
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import Resolver404, resolve

setup_test_environment()
call_command("migrate", verbosity=0, interactive=False)
report = {
    "sandbox_mode": settings.CARRIERX_SANDBOX,
    "installed": apps.is_installed("sandbox"),
    "admin_models": sorted(
        f"{model._meta.app_label}.{model.__name__}" for model in admin.site._registry
    ),
    "resolves": {},
    "pages": {},
}
for url in sys.argv[1].split(","):
    try:
        resolve(url)
        report["resolves"][url] = True
    except Resolver404:
        report["resolves"][url] = False
client = Client()
for url in sys.argv[1].split(","):
    report["resolves"][url + " GET"] = client.get(url).status_code
    report["resolves"][url + " POST"] = client.post(
        url, data="{}", content_type="application/json"
    ).status_code
client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
for url in sys.argv[2].split(","):
    response = client.get(url)
    body = response.content.decode()
    report["pages"][url] = {
        "status": response.status_code,
        "mentions_sandbox_handset": "Sandbox handset" in body,
    }
report["sandbox_imported"] = sorted(m for m in sys.modules if m.split(".")[0] == "sandbox")
print("REPORT " + json.dumps(report))
"""

SANDBOX_URLS = ["/sandbox/phone/", "/sandbox/core/v2/partners", "/sandbox/simulate/inbound"]
PORTAL_PAGES = [
    "/messaging/",
    "/messaging/inbox/",
    "/messaging/messages/",
    "/messaging/auto-reply/",
    "/numbers/",
    "/numbers/groups/",
    "/numbers/settings/callbacks/",
    "/admin/",
]


def test_with_a_carrier_token_the_sandbox_is_not_installed_and_the_portal_still_works(tmp_path):
    result = run_django(
        tmp_path,
        "-c",
        WITHOUT_SANDBOX,
        ",".join(SANDBOX_URLS),
        ",".join(PORTAL_PAGES),
        DEBUG="1",
        CARRIERX_TOKEN="x",
        CARRIERX_WEBHOOK_SECRET=secrets.token_urlsafe(32),
        # A closed port: no page may call the carrier, and no test reaches a port it did not open.
        CARRIERX_API_URL="http://127.0.0.1:9/core/v2",
    )

    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line.removeprefix("REPORT "))
    assert report["sandbox_mode"] is False
    assert report["installed"] is False
    assert [name for name in report["admin_models"] if name.startswith("sandbox.")] == []
    assert "messaging.Message" in report["admin_models"]  # the admin itself is still there
    assert report["resolves"] == {
        **dict.fromkeys(SANDBOX_URLS, False),
        **{f"{url} GET": 404 for url in SANDBOX_URLS},
        **{f"{url} POST": 404 for url in SANDBOX_URLS},
    }
    assert report["pages"] == {
        url: {"status": 200, "mentions_sandbox_handset": False} for url in PORTAL_PAGES
    }
    assert report["sandbox_imported"] == []
