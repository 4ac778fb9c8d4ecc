"""Nothing a caller sends to the sandbox's API is a 5xx: every refusal is a 4xx in the carrier's
error shape, and afterwards the sandbox's lists and the portal's pages still answer.

Bodies start from the carrier's own payloads (tests/fixtures/carrierx/) and the sandbox's own
objects, then lose fields, change type (str, int, float, bool, null, list, object), grow past
every bound, and are damaged as bytes (invalid UTF-8, NUL, lone surrogates, deep nesting,
truncation) or sent under the wrong content type. MMS sends and simulations get `media_urls` and
`group_recipients` mutated item by item, and the simulator multipart/form-data bodies with files
of every size, type and name, whole or damaged. Seeded, so a run repeats; the whole module makes
about SANDBOX_FUZZ_EXAMPLES requests (default 700; set it higher to look harder, and
SANDBOX_FUZZ_SEED to look elsewhere).
"""

from __future__ import annotations

import copy
import json
import os
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sandbox.listing import OPERATORS
from sandbox.models import SandboxDid, SandboxDidGroup, SandboxMessage, SandboxPartner
from sandbox.sms import sms_receive
from tests.conftest import load_fixture, make_user

pytestmark = pytest.mark.django_db(transaction=True)

TOTAL_EXAMPLES = int(os.environ.get("SANDBOX_FUZZ_EXAMPLES", "700"))
SEED = int(os.environ.get("SANDBOX_FUZZ_SEED", "20261129"))
# Each test's share of the requests.
SHARES = {
    "send": 0.25,
    "mms": 0.1,
    "simulate": 0.15,
    "multipart": 0.1,
    "did": 0.15,
    "group": 0.1,
    "partner": 0.1,
    "lists": 0.25,
    "rent": 0.05,
    "messaging": 0.05,
    "mdrs": 0.1,
    "lookup": 0.05,
}


def fuzz_settings(share: str):
    return hypothesis_settings(
        max_examples=max(10, int(TOTAL_EXAMPLES * SHARES[share])),
        deadline=None,
        database=None,  # no .hypothesis/ directory in the checkout; the seed makes runs repeat
        suppress_health_check=list(HealthCheck),
    )


# --- Values ---------------------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "1516206\x005575",
    "\ud800",
    "15162065575\udfff",
    "١٥١٦٢٠٦٥٥٧٥",  # digits, but not ASCII ones
    "１５１６２０６５５７５",
    "+1 (516) 206-5575",
    "1555/0109999",
    "0" * 15,
    "9" * 16,
    "null",
    "<svg/onload=alert()>",
    "=cmd|'/C calc'!A0",
    "http://127.0.0.1:5432/",
    "http://user:pass@127.0.0.1/",
    "ftp://example.com/",
    "javascript:alert(1)",
    "😀" * 3,
    "e\u0301",
    "NaN",
]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**20]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(NASTY_TEXT),
)
RETYPED = st.one_of(
    LEAVES,
    st.lists(LEAVES, max_size=3),
    st.dictionaries(st.text(max_size=8), LEAVES, max_size=3),
)
OVERSIZED = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["a", "7", "é", "😀", " "]),
    st.sampled_from([37, 201, 1025, 1601, 2049, 20_000]),
)


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def mutated(draw, base: dict, more_keys: tuple[str, ...] = ()) -> dict:
    """`base` with a few fields removed, retyped, made nasty or oversized, or added."""
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        key = draw(st.sampled_from(sorted(set(body) | set(more_keys) | {"unknown_field"})))
        action = draw(st.sampled_from(["remove", "retype", "nasty", "oversize", "deep"]))
        if action == "remove":
            body.pop(key, None)
        elif action == "retype":
            body[key] = draw(RETYPED)
        elif action == "nasty":
            body[key] = draw(st.sampled_from(NASTY_TEXT))
        elif action == "oversize":
            body[key] = draw(OVERSIZED)
        else:
            body[key] = nested(draw(st.sampled_from([3, 60, 900])))
    return body


CONTENT_TYPES = [
    *["application/json"] * 12,  # mostly right, so most bodies reach the validation behind it
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=fuzz",
    "",
]


@st.composite
def encoded(draw, bodies: st.SearchStrategy) -> tuple[bytes, str]:
    """A body as bytes on the wire, mostly good JSON, sometimes damaged, and its content type."""
    body = draw(bodies)
    ascii_only = draw(st.booleans())  # \ud800 as an escape, or as raw (invalid UTF-8) bytes
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    damage = draw(
        st.sampled_from(
            ["none"] * 10
            + ["bytes", "truncate", "not json", "array", "deep", "nan", "bom", "empty"]
        )
    )
    if damage == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b"\xed\xa0\x80", b"\xfe\xff"]))
        raw = raw[:at] + junk + raw[at:]
    elif damage == "truncate":
        raw = raw[: draw(st.integers(min_value=0, max_value=max(0, len(raw) - 1)))]
    elif damage == "not json":
        raw = draw(st.sampled_from([b"from=1&to=2", b"{oops", b"\x00\x00", b"null", b"42", b'"x"']))
    elif damage == "array":
        raw = b"[" + raw + b"]"
    elif damage == "deep":
        depth = draw(st.sampled_from([1000, 5000, 100_000]))
        raw = b'{"message": ' + b"[" * depth + b"]" * depth + b"}"
    elif damage == "nan":
        raw = raw.rstrip(b"}") + (b", " if len(body) else b"") + b'"attributes": {"x": NaN}}'
    elif damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif damage == "empty":
        raw = b""
    return raw, draw(st.sampled_from(CONTENT_TYPES))


# --- Asking and checking ------------------------------------------------------------------------


def auth(settings) -> dict:
    # The sandbox's token opens the API and, with the sandbox tools gated, the simulator too.
    return {"HTTP_AUTHORIZATION": "Bearer " + settings.CARRIERX_TOKEN}


def assert_carrier_answer(response) -> None:
    """Below 500; a refusal is the carrier's error body, an answer is JSON."""
    assert response.status_code < 500, response.content[:500]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert isinstance(body["message"], str) and body["message"], body
        assert isinstance(body["errors"], list), body
        for error in body["errors"]:
            assert set(error) == {"field", "message", "reference_sid"}, body
            assert isinstance(error["message"], str), body


def send_raw(client: Client, method: str, path: str, raw: bytes, content_type: str, settings):
    response = client.generic(method, path, raw, content_type=content_type, **auth(settings))
    assert_carrier_answer(response)
    return response


@pytest.fixture
def world(sandbox, settings) -> dict:
    """The seeded sandbox, and one of each object to PATCH."""
    did = SandboxDid.objects.get(phonenumber="15162065320")
    return {
        "client": Client(),
        "did_path": reverse("sandbox:did", args=[did.did_sid]),
        "group_path": reverse("sandbox:did_group", args=[did.did_group.did_group_sid]),
        "partner_path": reverse("sandbox:partner", args=[sandbox.partner_sid]),
        "group_sid": did.did_group.did_group_sid,
    }


@pytest.fixture
def after_the_storm(world, settings, client):
    """Run after the fuzz: every sandbox list, and the portal's pages over its sync, answer."""
    yield
    api = world["client"]
    for name in ("sms_messages", "dids", "did_groups", "partners"):
        for query in ("", "?limit=1000", "?order=name desc" if name != "sms_messages" else ""):
            response = api.get(reverse(f"sandbox:{name}") + query, **auth(settings))
            assert response.status_code == 200, (name, query, response.content[:300])
    for path in (world["did_path"], world["group_path"], world["partner_path"]):
        assert api.get(path, **auth(settings)).status_code == 200

    staff = make_user("fuzz-admin", superuser=True)
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    synced = client.post(reverse("numbers:sync"), follow=True)
    assert synced.status_code == 200
    assert "Could not sync" not in synced.content.decode()
    pages = ["/numbers/", "/numbers/groups/", "/numbers/settings/callbacks/", "/messaging/"]
    pages += [f"/numbers/{d.did_sid}/" for d in SandboxDid.objects.filter(partner__isnull=False)]
    pages += [f"/numbers/groups/{g.did_group_sid}/" for g in SandboxDidGroup.objects.all()]
    pages += ["/sandbox/phone/"]
    for page in pages:
        assert client.get(page).status_code == 200, page


# --- The fuzz -------------------------------------------------------------------------------------

SEND_BASES = [
    load_fixture("send_request_legacy"),
    {"from": "15162065575", "to": "15162065574", "message": "This is a test message"},
    {
        key: load_fixture("send_response")[key]
        for key in ("from", "to", "message", "user_data", "media_urls", "group_recipients")
    },
]
SEND_BODIES = st.sampled_from(SEND_BASES).flatmap(
    lambda base: mutated(base, ("from", "to", "from_did", "to_did", "user_data", "type"))
)


@seed(SEED)
@fuzz_settings("send")
@given(sent=encoded(SEND_BODIES))
@example(
    sent=(
        b'{"from_did": "15162065575", "to_did": "15162065574", "message": "ok"}',
        "application/json",
    )
)
def test_no_send_body_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(world["client"], "POST", reverse("sandbox:sms_messages"), raw, content_type, settings)


# MMS fields: whole values retyped, and arrays whose items are retyped, nasty, too long or too many.
MEDIA_URLS = [
    "https://example.com/cat.png",
    "http://127.0.0.1:8000/media/token/receipt.pdf",
    "https://storage.carrierx.com/f/cdac0471-f144-42a2-94f8-d9838ce5e4b9",
]
URL_ITEMS = st.one_of(
    st.sampled_from(MEDIA_URLS),
    LEAVES,
    OVERSIZED,
    st.sampled_from([0, 1979, 1980, 1981, 5000]).map(lambda n: "https://example.com/" + "a" * n),
)
MEDIA_LISTS = st.one_of(
    st.lists(URL_ITEMS, max_size=12),
    st.sampled_from([0, 1, 10, 11, 1000]).map(lambda n: MEDIA_URLS[:1] * n),
    RETYPED,
)
NUMBER_ITEMS = st.one_of(
    st.sampled_from(["15162065575", "15162065574", "15162065318", "12125550142"]), LEAVES
)
GROUP_LISTS = st.one_of(
    st.lists(NUMBER_ITEMS, max_size=12),
    st.sampled_from([1, 8, 9, 10, 11, 100]).map(lambda n: [f"1212555{i:04d}" for i in range(n)]),
    RETYPED,
)


@st.composite
def with_mms_fields(draw, base: dict) -> dict:
    body = draw(mutated(base, ("from", "to", "message", "media_urls", "group_recipients")))
    if draw(st.booleans()):
        body["media_urls"] = draw(MEDIA_LISTS)
    if draw(st.booleans()):
        body["group_recipients"] = draw(GROUP_LISTS)
    return body


MMS_BASES = [
    {"from": "15162065575", "to": "15162065574", "media_urls": MEDIA_URLS[:1]},
    {
        "from": "15162065575",
        "to": "15162065574",
        "message": "Dinner?",
        "media_urls": MEDIA_URLS,
        "group_recipients": ["15162065575", "15162065574", "12125550142"],
    },
    # The one seeded DID that cannot send MMS.
    {"from_did": "15162065580", "to_did": "15162065574", "media_urls": MEDIA_URLS[1:]},
]


@seed(SEED)
@fuzz_settings("mms")
@given(sent=encoded(st.sampled_from(MMS_BASES).flatmap(with_mms_fields)))
@example(
    sent=(b'{"from": "15162065575", "to": "15162065574", "media_urls": {}}', "application/json")
)
def test_no_mms_send_body_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(world["client"], "POST", reverse("sandbox:sms_messages"), raw, content_type, settings)


INBOUND = load_fixture("inbound_legacy")
SIMULATE_BASES = [
    {"from": INBOUND["from_did"], "to": INBOUND["to_did"], "message": INBOUND["message"]},
    {"from_did": INBOUND["from_did"], "to_did": INBOUND["to_did"], "message": INBOUND["message"]},
    {"from": "+1 (516) 206-5574", "to": "15162065318", "message": "Hi", "media_urls": []},
]
SIMULATE_BODIES = st.one_of(
    st.sampled_from(SIMULATE_BASES).flatmap(
        lambda base: mutated(base, ("from", "to", "from_did", "to_did", "media_urls"))
    ),
    st.sampled_from(SIMULATE_BASES).flatmap(with_mms_fields),
)


@seed(SEED)
@fuzz_settings("simulate")
@given(sent=encoded(SIMULATE_BODIES))
def test_no_simulated_inbound_body_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(
        world["client"], "POST", reverse("sandbox:simulate_inbound"), raw, content_type, settings
    )


UPLOAD_TYPES = [
    "image/png",
    "image/jpeg",
    "application/pdf",
    "text/vcard",
    "text/html",
    "image/svg+xml",
    "application/octet-stream",
    "",
    "image/png; charset=binary",
    "IMAGE/PNG",
    "image/png\x00",
]
UPLOAD_NAMES = st.one_of(
    st.sampled_from(
        [
            "cat.png",
            "receipt.pdf",
            "card.vcf",
            "",
            "x" * 300 + ".png",
            "../../etc/passwd",
            "a\x00.png",
        ]
    ),
    st.sampled_from(["é.jpg", "\ud800.png", "a\r\nContent-Type: text/html.png", "noext"]),
    st.text(max_size=12),
)
FIELD_VALUES = st.one_of(
    st.sampled_from(["15162065574", "15162065318", "15162065580", "15162065581", "Hi"]),
    st.sampled_from(["15162065574,12125550142", "15162065574, x", ",,,"]),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=20),
    OVERSIZED,
)


MOSTLY_GOOD = {
    "from": st.sampled_from(["15162065574", "+1 (212) 555-0142"]),
    "to": st.sampled_from(["15162065318", "15162065575", "15162065580"]),
    "message": st.sampled_from(["", "Look at this", "é" * 1600]),
    "group_recipients": st.sampled_from(["15162065574,15162065318", "12125550142"]),
    "from_did": st.sampled_from(["15162065574"]),
    "media_urls": st.sampled_from(MEDIA_URLS),
    "junk": st.sampled_from(["1"]),
}


@st.composite
def multipart_bodies(draw) -> tuple[bytes, str]:
    """A multipart/form-data body as the handset (or curl -F) sends it, then maybe damaged."""
    boundary = "fuzzboundary" + str(draw(st.integers(min_value=0, max_value=99)))
    parts = []
    for key in ("from", "to", "message", "group_recipients", "from_did", "media_urls", "junk"):
        # `from` and `to` mostly there and right, so most bodies reach the checks on the files.
        present = [True] * 5 + [False] if key in ("from", "to") else [False, True]
        if draw(st.sampled_from(present)):
            for _ in range(draw(st.integers(min_value=1, max_value=2))):
                value = draw(st.one_of(MOSTLY_GOOD[key], MOSTLY_GOOD[key], FIELD_VALUES))
                parts.append(f'Content-Disposition: form-data; name="{key}"\r\n\r\n{value}')
    files = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3, 10, 11, 12]))):
        name = draw(UPLOAD_NAMES).replace('"', "")
        content_type = draw(st.sampled_from(["image/png", "image/jpeg", *UPLOAD_TYPES]))
        size = draw(st.sampled_from([0, 1, 100, 70_000, 1_100_000, 1_600_000]))
        head = (
            f'Content-Disposition: form-data; name="media"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        files.append((head, b"\x89PNG" + b"\0" * size))
    raw = b"".join(f"--{boundary}\r\n{part}\r\n".encode("utf-8", "surrogatepass") for part in parts)
    raw += b"".join(
        f"--{boundary}\r\n{head}".encode("utf-8", "surrogatepass") + data + b"\r\n"
        for head, data in files
    )
    raw += f"--{boundary}--\r\n".encode()
    damage = draw(st.sampled_from(["none"] * 8 + ["truncate", "junk", "no end", "boundary"]))
    content_type = f"multipart/form-data; boundary={boundary}"
    if damage == "truncate":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif damage == "junk":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"--", b"\r\n\r\n"])) + raw[at:]
    elif damage == "no end":
        raw = raw.removesuffix(f"--{boundary}--\r\n".encode())
    elif damage == "boundary":
        content_type = draw(
            st.sampled_from(
                [
                    "multipart/form-data",
                    "multipart/form-data; boundary=",
                    "multipart/form-data; boundary=other",
                ]
            )
        )
    return raw, content_type


GOOD_MULTIPART = (
    b"--b\r\n"
    b'Content-Disposition: form-data; name="from"\r\n\r\n15162065574\r\n'
    b"--b\r\n"
    b'Content-Disposition: form-data; name="to"\r\n\r\n15162065318\r\n'
    b"--b\r\n"
    b'Content-Disposition: form-data; name="media"; filename="cat.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n"
    b"--b--\r\n"
)


@seed(SEED)
@fuzz_settings("multipart")
@given(sent=multipart_bodies())
@example(sent=(GOOD_MULTIPART, "multipart/form-data; boundary=b"))
def test_no_multipart_simulated_inbound_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(
        world["client"], "POST", reverse("sandbox:simulate_inbound"), raw, content_type, settings
    )


DID_FIXTURE = load_fixture("did")
DID_BASES = [
    {"callback_url": "http://127.0.0.1:8000/webhooks/carrierx/x/"},
    {"name": "Main line", "string_key_1": None, "string_key_2": "two"},
    {"attributes": {"team": "support"}, "did_group_sid": None},
    DID_FIXTURE,  # the whole object, read-only keys and all, as a client that echoes it back
]
DID_BODIES = st.sampled_from(DID_BASES).flatmap(
    lambda base: mutated(base, ("callback_url", "name", "attributes", "did_group_sid"))
)


@seed(SEED)
@fuzz_settings("did")
@given(sent=encoded(DID_BODIES))
def test_no_did_patch_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(world["client"], "PATCH", world["did_path"], raw, content_type, settings)


GROUP_BASES = [
    {"name": "Support", "callback_url": "https://example.com/sms"},
    {"callback_url": None},
]


@seed(SEED)
@fuzz_settings("group")
@given(sent=encoded(st.sampled_from(GROUP_BASES).flatmap(mutated)))
def test_no_did_group_patch_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(world["client"], "PATCH", world["group_path"], raw, content_type, settings)


PARTNER_BASES = [
    {"callbacks": {"sms": "https://example.com/sms"}},
    {"callbacks": {"sms": None, "phonenumber_order": ""}, "field_naming": "current"},
    {"field_naming": "legacy"},
]


@st.composite
def partner_bodies(draw) -> dict:
    body = draw(st.sampled_from(PARTNER_BASES).flatmap(mutated))
    if isinstance(body.get("callbacks"), dict) and draw(st.booleans()):
        body["callbacks"] = draw(mutated(body["callbacks"], ("sms", "app_mediator", "bogus")))
    return body


@seed(SEED)
@fuzz_settings("partner")
@given(sent=encoded(partner_bodies()))
def test_no_partner_patch_is_a_server_error(world, settings, after_the_storm, sent):
    raw, content_type = sent
    send_raw(world["client"], "PATCH", world["partner_path"], raw, content_type, settings)


LIST_ATTRIBUTES = {
    "sms_messages": ["message_sid", "from", "to_did", "status", "message_segments", "date_created"],
    "dids": ["phonenumber", "name", "did_group_sid", "capabilities", "callback_url"],
    "did_groups": ["name", "callback_url", "did_group_sid"],
    "partners": ["name", "partner_sid", "status"],
    "available_dids": ["phonenumber", "state", "npa", "npa_nxx", "capabilities", "country_code"],
    "coverage": ["state", "npa", "capabilities", "locality"],
    "message_drs": ["dr_sid", "date_insert", "date_stop", "direction", "status", "number_src"],
}
FILTER_VALUES = st.one_of(
    st.sampled_from(["null", "'Main line'", '"%555%"', "5", "2021-04-21", "2021-04-21T17:42:55Z"]),
    st.sampled_from(
        [
            str(2**63),
            str(2**70),
            "-1",
            "1e9",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
        ]
    ),
    st.sampled_from(NASTY_TEXT),
    st.sampled_from(
        ["latlng:40.7,-74", "latlng:91,0", "latlng:nan,nan", "latlng:1e400,0", "latlng:", "4", "3"]
    ),
    st.text(max_size=12),
    OVERSIZED,
)


@st.composite
def list_queries(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(LIST_ATTRIBUTES)))
    params: list[tuple[str, str]] = []
    if draw(st.booleans()):
        clauses = []
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            attr = draw(st.sampled_from([*LIST_ATTRIBUTES[name], "bogus", "", "1x"]))
            op = draw(st.sampled_from([*OPERATORS, "LIKE", "in", "", "bit", "nearby"]))
            value = draw(FILTER_VALUES)
            quote = draw(st.sampled_from(["", "'", '"']))
            clauses.append(f"{attr} {op} {quote}{value}{quote}")
        joiner = draw(st.sampled_from([" and ", " AND ", " or ", ",", " and  and "]))
        params.append(("filter", joiner.join(clauses)))
    for key in ("limit", "offset"):
        if draw(st.booleans()):
            value = draw(
                st.one_of(
                    st.integers(min_value=0, max_value=1100).map(str),
                    st.integers(min_value=1, max_value=20).map(str),
                    st.integers(min_value=-5, max_value=2**70).map(str),
                    st.sampled_from(["", "1.5", "ten", " 3 ", "1_000", "0x10", "٣", "\x00"]),
                )
            )
            params.append((key, value))
    if draw(st.booleans()):
        attr = draw(st.sampled_from([*LIST_ATTRIBUTES[name], "bogus"]))
        params.append(("order", f"{attr} {draw(st.sampled_from(['', 'asc', 'DESC', 'up']))}"))
    if draw(st.booleans()):
        params.append(
            (draw(st.sampled_from(["limit", "filter", "junk"])), draw(RETYPED).__repr__())
        )
    if name == "coverage" and draw(st.integers(min_value=0, max_value=5)):
        params.append(("group_by", draw(st.sampled_from(["state", "npa", "locality", "x", ""]))))
    query = "&".join(
        quote_from_bytes(key.encode())
        + "="
        + quote_from_bytes(value.encode("utf-8", "surrogatepass"))
        for key, value in params
    )
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        query += draw(st.sampled_from(["&limit=%ff", "&filter=%00", "&%ed%a0%80=1", "&&=&"]))
    return name, query


@seed(SEED)
@fuzz_settings("lists")
@given(sent=list_queries())
@example(sent=("dids", "filter=capabilities%20gt%20" + str(2**70)))
@example(sent=("sms_messages", "filter=date_created%20lt%200001-01-01T00%3A00%3A00%2B14%3A00"))
def test_no_list_query_is_a_server_error(world, settings, after_the_storm, sent):
    name, query = sent
    response = world["client"].get(f"{reverse(f'sandbox:{name}')}?{query}", **auth(settings))
    assert_carrier_answer(response)


RENT_BASES = [
    {},
    {"phonenumber": "15162065575", "callback_url": None},
    {"phonenumber": "12125550100"},
    {"name": "New line", "attributes": {"team": "sales"}, "did_group_sid": None},
]
RENT_QUERIES = ["", "?include_external=true", "?include_external=maybe", "?filter=state%20eq%20TX"]


@seed(SEED)
@fuzz_settings("rent")
@given(
    sent=encoded(st.sampled_from(RENT_BASES).flatmap(lambda base: mutated(base, ("phonenumber",)))),
    query=st.sampled_from(RENT_QUERIES),
)
def test_no_rent_body_is_a_server_error(world, settings, after_the_storm, sent, query):
    raw, content_type = sent
    path = reverse("sandbox:dids") + query
    send_raw(world["client"], "POST", path, raw, content_type, settings)


MESSAGING_BASES = [
    {"enabled": True, "type": "a2p", "campaign_sid": "fef13cdd-2f65-4ed8-8272-de2a940d0cb5"},
    {"enabled": False},
    {"enabled": True, "type": "p2p", "p2p_nnid": "123456"},
    {"enabled": True, "campaign_sid": "rejected-x"},
]


@seed(SEED)
@fuzz_settings("messaging")
@given(
    sent=encoded(
        st.sampled_from(MESSAGING_BASES).flatmap(
            lambda base: mutated(base, ("enabled", "type", "campaign_sid", "p2p_nnid"))
        )
    ),
    query=st.sampled_from(["", "?force=true", "?force=1"]),
)
def test_no_messaging_enablement_body_is_a_server_error(
    world, settings, after_the_storm, sent, query
):
    raw, content_type = sent
    sid = SandboxDid.objects.get(phonenumber="15162065576").did_sid
    path = reverse("sandbox:did_messaging", args=[sid]) + query
    send_raw(world["client"], "POST", path, raw, content_type, settings)


# A record the sandbox has, put in place of this marker when the query is sent.
A_RECORD = "<a record>"
CURSOR_VALUES = st.one_of(
    st.just(A_RECORD),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=40),
    OVERSIZED,
    st.sampled_from(["92cd9154-2f53-4e62-8b4e-8ff6e4849d16", "%", "' or 1=1 --"]),
)
MDR_CLAUSES = st.one_of(
    st.sampled_from(
        [
            "direction eq any",
            "direction eq inbound",
            "direction eq undirected",
            "direction ne outbound",
            "direction like %",
            "direction gt any",
        ]
    ),
    st.builds(
        lambda attr, op, value: f"{attr} {op} {value}",
        st.sampled_from(["date_insert", "date_stop", "date_sent", "delay_sent", "direction"]),
        st.sampled_from([*OPERATORS, "bit", "in"]),
        FILTER_VALUES,
    ),
)


@st.composite
def mdr_queries(draw) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for key in ("after", "before"):
        if draw(st.integers(min_value=0, max_value=2)):
            params.append((key, draw(CURSOR_VALUES)))
    if draw(st.booleans()):
        clauses = draw(st.lists(MDR_CLAUSES, min_size=1, max_size=3))
        params.append(("filter", draw(st.sampled_from([" and ", " AND ", " or "])).join(clauses)))
    for key in ("limit", "offset"):
        if draw(st.booleans()):
            params.append((key, draw(st.sampled_from(["0", "1", "1000", "1001", "-1", "x", ""]))))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        params.append(("order", draw(st.sampled_from(["date_insert desc", "price", ""]))))
    return params


def _encoded(params: list[tuple[str, str]]) -> str:
    return "&".join(
        quote_from_bytes(key.encode())
        + "="
        + quote_from_bytes(value.encode("utf-8", "surrogatepass"))
        for key, value in params
    )


@seed(SEED)
@fuzz_settings("mdrs")
@given(params=mdr_queries(), one=CURSOR_VALUES)
def test_no_detail_record_query_or_sid_is_a_server_error(
    world, settings, after_the_storm, params, one
):
    partner = SandboxPartner.objects.get()
    if not SandboxMessage.objects.exists():
        sms_receive(
            partner=partner, body={"from": "15162065574", "to": "15162065575", "message": "x"}
        )
    real = SandboxMessage.objects.values_list("dr_sid", flat=True).first()
    params = [(key, real if value == A_RECORD else value) for key, value in params]
    response = world["client"].get(
        f"{reverse('sandbox:message_drs')}?{_encoded(params)}", **auth(settings)
    )
    assert_carrier_answer(response)
    sid = quote_from_bytes((real if one == A_RECORD else one).encode("utf-8", "surrogatepass"))
    response = world["client"].get(f"/sandbox/core/v2/sms/message_drs/{sid}", **auth(settings))
    assert_carrier_answer(response)


LOOKUP_NUMBERS = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.sampled_from(["+1 (562) 349-90-00", "15623499000", "5623499000", "+44 20 7946 0958"]),
    st.text(alphabet="0123456789+-() .#*", max_size=30),
    st.text(max_size=20),
    OVERSIZED,
)
LOOKUP_FLAGS = st.sampled_from(["true", "false", "TRUE", "1", "0", "", "maybe", "\x00", "None"])


@seed(SEED)
@fuzz_settings("lookup")
@given(
    number=LOOKUP_NUMBERS,
    flags=st.lists(st.tuples(st.sampled_from(["carrier", "cnam", "lrn", "hlr"]), LOOKUP_FLAGS)),
)
def test_no_lookup_path_or_query_is_a_server_error(world, settings, after_the_storm, number, flags):
    path = quote_from_bytes(number.encode("utf-8", "surrogatepass"), safe="")
    response = world["client"].get(
        f"/sandbox/core/v2/lookup/dids/{path}?{_encoded(flags)}", **auth(settings)
    )
    assert_carrier_answer(response)


# --- What the fuzz found, kept as plain tests ----------------------------------------------------


def post_json(settings, name: str, body: object, *, raw: bytes | None = None):
    return Client().generic(
        "POST",
        reverse(f"sandbox:{name}"),
        raw if raw is not None else json.dumps(body),
        content_type="application/json",
        **auth(settings),
    )


def errors_of(response) -> dict:
    assert response.status_code in (400, 413, 415, 422), response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_a_legacy_send_is_told_about_from_did_by_that_name(sandbox, settings):
    response = post_json(
        settings, "sms_messages", {"from_did": "1555", "to_did": 15162065574, "message": "x"}
    )
    assert set(errors_of(response)) == {"from_did", "to_did"}


def test_a_current_send_is_told_about_from_and_to_by_those_names(sandbox, settings):
    response = post_json(settings, "sms_messages", {"from": "1555", "to": None, "message": "x"})
    assert set(errors_of(response)) == {"from", "to"}


def test_a_lone_surrogate_in_a_body_is_refused_with_a_reason(sandbox, settings):
    body = {"from": "15162065575", "to": "15162065574", "message": "half an emoji \ud83d"}
    response = post_json(settings, "sms_messages", body)
    assert response.status_code == 400
    assert "surrogate" in response.json()["errors"][0]["message"]
    assert not SandboxPartner.objects.get().messages.exists()


def test_json_nested_thousands_deep_is_refused_not_a_crash(sandbox, settings):
    raw = b'{"message": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post_json(settings, "sms_messages", None, raw=raw)
    assert response.status_code == 400
    assert response.json()["message"] == "No JSON object could be decoded"


def test_nan_is_not_json_and_is_refused(sandbox, settings):
    did = SandboxDid.objects.first()
    response = Client().patch(
        reverse("sandbox:did", args=[did.did_sid]),
        b'{"attributes": {"x": NaN}}',
        content_type="application/json",
        **auth(settings),
    )
    assert response.status_code == 400
    assert SandboxDid.objects.get(pk=did.pk).attributes == did.attributes


def test_digits_that_are_not_ascii_are_not_a_phone_number(sandbox, settings):
    body = {"from": "15162065575", "to": "١٥١٦٢٠٦٥٥٧٤", "message": "x"}
    assert "to" in errors_of(post_json(settings, "sms_messages", body))


def test_a_body_over_the_upload_limit_is_refused_in_the_carriers_shape(sandbox, settings):
    body = {"from": "15162065575", "to": "15162065574", "message": "a" * 3_000_000}
    response = post_json(settings, "sms_messages", body)
    assert response.status_code == 413
    assert response.json()["message"] == "request too large"


def test_a_filter_on_a_number_past_64_bits_is_refused(sandbox, settings):
    response = Client().get(
        reverse("sandbox:dids"), {"filter": f"capabilities gt {2**70}"}, **auth(settings)
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "filter"
