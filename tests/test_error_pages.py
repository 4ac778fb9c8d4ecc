"""Error pages in the portal's look (nav, reason, a way back), a 403 logged as one line, the nav
offering only what a role may use, and each error said once."""

from __future__ import annotations

import logging

import pytest
from django.template.loader import get_template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.defaults import server_error

from messaging.models import Conversation, OptOut
from phone_numbers.models import Did
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

OUR_DID = "15162065318"
CUSTOMER = "15162065319"
SEND = "/messaging/"


def signed_in(*groups: str, username: str = "nobody", **flags) -> Client:
    user = make_user(username, *groups)
    for name, value in flags.items():
        setattr(user, name, value)
    user.save()
    client = Client()
    client.force_login(user)
    return client


def nav_of(html: str) -> str:
    return html[html.index('<nav class="mainnav"') : html.index("</nav>")]


# --- 403 ------------------------------------------------------------------------------------------


def test_a_user_without_a_role_gets_a_403_page_with_the_nav_the_reason_and_a_way_back():
    client = signed_in()
    response = client.get(SEND, HTTP_REFERER="http://testserver/numbers/")
    assert response.status_code == 403
    page = response.content.decode()
    assert '<nav class="mainnav" aria-label="Main">' in page
    assert "Sending needs the Senders role; ask an administrator." in page
    assert 'href="http://testserver/numbers/"' in page  # back where they came from
    assert "static/css/portal.css" in page
    assert "403 Forbidden" not in page


def test_without_a_referer_the_way_back_is_the_start_page():
    response = signed_in().get(SEND)
    assert response.status_code == 403
    assert f'<a class="button primary" href="{reverse("home")}">' in response.content.decode()


def test_the_403_names_the_role_each_guarded_page_needs():
    client = signed_in()
    did = Did.objects.create(did_sid="d1", phonenumber=OUR_DID, active_capabilities=7)
    for url, role in [
        (reverse("messaging:inbox"), "Inbox staff"),
        (reverse("messaging:messages"), "Inbox staff"),
        (reverse("messaging:auto_reply_save", args=[did.did_sid]), "Number admins"),
        (reverse("numbers:did_callback", args=[did.did_sid]), "Number admins"),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert f"needs the {role} role; ask an administrator." in response.content.decode(), url


def test_a_403_is_logged_as_one_line_without_a_traceback(caplog):
    client = signed_in(username="sam")
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get(SEND).status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    record = records[0]
    assert record.exc_info is None and not record.exc_text
    line = logging.Formatter().format(record)
    assert "\n" not in line
    assert "Traceback" not in line
    assert line == (
        "Forbidden (Permission denied): /messaging/ "
        "(Sending needs the Senders role; ask an administrator.)"
    )


# --- the nav offers only what the role may use ---------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "offered", "absent"),
    [
        ((), ["Phone Numbers", "DID Groups", "Auto-reply"], ["Messaging", "Inbox", "Messages"]),
        (("Senders",), ["Messaging", "Phone Numbers"], ["Inbox", "Messages"]),
        (("Inbox staff",), ["Inbox", "Messages", "DID Groups"], ["Messaging"]),
        (
            ("Senders", "Inbox staff", "Number admins"),
            ["Messaging", "Inbox", "Messages", "Phone Numbers", "DID Groups", "Auto-reply"],
            [],
        ),
    ],
)
def test_the_nav_shows_only_the_pages_the_users_role_opens(groups, offered, absent):
    client = signed_in(*groups)
    page = client.get(reverse("numbers:groups")).content.decode()
    nav = nav_of(page)
    for label in offered:
        assert f">{label}</a>" in nav or f">{label} <" in nav, label
    for label in absent:
        assert f">{label}</a>" not in nav and f">{label} <" not in nav, label
    assert "Global Settings → Callbacks" in nav
    assert ">Admin</a>" not in page


def test_every_nav_link_opens_for_its_user():
    for groups in [(), ("Senders",), ("Inbox staff",), ("Number admins",)]:
        client = signed_in(*groups, username="u" + "".join(g[0] for g in groups))
        nav = nav_of(client.get(reverse("numbers:partner_callbacks")).content.decode())
        for href in [part.split('"')[0] for part in nav.split('href="')[1:]]:
            assert client.get(href).status_code == 200, (groups, href)


def test_admin_and_the_sandbox_handset_are_offered_to_staff_only(settings):
    staff = signed_in(username="root", is_staff=True).get(reverse("numbers:list")).content
    assert b">Admin</a>" in staff
    assert b">Sandbox handset</a>" in staff
    page = signed_in("Number admins").get(reverse("numbers:list")).content
    assert b">Admin</a>" not in page
    assert b"Sandbox handset" not in page


def test_the_nav_marks_did_groups_current_on_a_groups_page():
    nav = nav_of(signed_in().get(reverse("numbers:groups")).content.decode())
    assert f'<a href="{reverse("numbers:groups")}" aria-current="page">DID Groups</a>' in nav


# --- 404, 500, CSRF -------------------------------------------------------------------------------


def test_a_404_page_keeps_the_nav_and_offers_a_way_back():
    response = signed_in().get("/numbers/no-such-did/")
    assert response.status_code == 404
    page = response.content.decode()
    assert '<nav class="mainnav"' in page
    assert "Page not found" in page
    assert "/numbers/no-such-did/" in page
    assert f'href="{reverse("home")}"' in page


def test_a_404_for_a_visitor_offers_sign_in():
    response = Client().get("/nothing-here/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and "Sign in" in page
    assert '<nav class="mainnav"' not in page


def test_500_renders_with_an_empty_context_in_the_portals_look():
    html = get_template("500.html").render()
    assert "Something went wrong" in html
    assert "static/css/portal.css" in html
    assert 'href="/"' in html
    # Django's own handler renders it just so, with an empty context:
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_an_unhandled_error_answers_the_500_page(settings):
    def boom(request):
        raise RuntimeError("kaboom")

    from django.urls import path

    settings.ROOT_URLCONF = type("urls", (), {"urlpatterns": [path("boom/", boom)]})
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "kaboom" not in response.content.decode()


def test_a_form_posted_without_its_csrf_token_gets_the_portals_page():
    user = make_user("sam", "Senders")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(SEND, {"to_did": "1", "message": "x"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "That form had expired" in page
    assert "Nothing was saved or sent" in page
    assert '<nav class="mainnav"' in page
    assert "CSRF verification failed" not in page


# --- each error said once -------------------------------------------------------------------------


def test_the_login_error_appears_once():
    make_user("sam")
    response = Client().post(
        reverse("login"), {"username": "sam", "password": "wrong"}, REMOTE_ADDR="10.9.8.7"
    )
    page = response.content.decode()
    assert page.count("Please enter a correct username and password") == 1


@pytest.fixture
def opted_out():
    Did.objects.create(did_sid="d1", phonenumber=OUR_DID, active_capabilities=7, capabilities=7)
    OptOut.objects.create(
        customer_number=CUSTOMER, our_number=OUR_DID, keyword="STOP", changed_at=timezone.now()
    )


def test_the_opt_out_refusal_appears_once_on_messaging(opted_out):
    client = signed_in("Senders")
    response = client.post(SEND, {"from_did": OUR_DID, "to_did": CUSTOMER, "message": "Sale!"})
    assert response.status_code == 422
    page = response.content.decode()
    assert page.count("Not sent:") == 1
    assert page.count("They can text START to opt back in.") == 1


def test_the_opt_out_refusal_appears_once_on_a_reply(opted_out):
    Conversation.objects.create(customer_number=CUSTOMER, last_activity_at=timezone.now())
    client = signed_in("Senders", "Inbox staff")
    url = reverse("messaging:reply", args=[CUSTOMER])
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        page = client.post(url, {"from_did": OUR_DID, "message": "?"}, **headers).content.decode()
        assert page.count("Not sent:") == 1, headers
        assert page.count("They can text START to opt back in.") == 1, headers


# --- favicon --------------------------------------------------------------------------------------


def test_favicon_ico_answers_and_pages_link_an_icon():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    icon = Client().get(response["Location"])
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content)
    page = Client().get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in page


def test_base_loads_each_script_once(settings):
    settings.DEBUG = True  # django-htmx.js is only loaded in DEBUG
    page = Client().get(reverse("login")).content.decode()
    assert page.count("django-htmx.js") == 1
    assert page.count("htmx-2.min.js") == 1
    assert '"includeIndicatorStyles": false' in page


def test_a_stale_sign_in_form_gets_the_portals_page_without_a_nav():
    response = Client(enforce_csrf_checks=True).post(
        reverse("login"), {"username": "sam", "password": "pw"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "That form had expired" in page
    assert '<nav class="mainnav"' not in page
    assert f'<a class="button primary" href="{reverse("home")}">Sign in</a>' in page
