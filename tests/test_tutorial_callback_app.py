"""The carrier tutorial's own callback app works unchanged against the sandbox's default (legacy)
field naming, but for its API address and token.

The app below is the tutorial's `sms_callback.py` logic (a Flask view there; a plain http.server
handler here so the test needs no Flask): it reads `from_did`/`to_did`/`status` from the callback
body and answers through `POST /sms/messages` with legacy names.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sandbox.models import SandboxDid, SandboxMessage
from tests.conftest import run_tasks

pytest_plugins = ["tests.callback_sink"]

HANDSET = "15162065574"
OUR_DID = "15162065318"


def tutorial_app(base_url: str, token: str) -> type[BaseHTTPRequestHandler]:
    class SmsCallback(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            # As in the tutorial: answer to the sender, from the DID that received the message.
            payload = {
                "from_did": data["to_did"],
                "to_did": data["from_did"],
                "message": "The SMS status is: " + data["status"],
            }
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            requests.post(base_url + "/sms/messages", json=payload, headers=headers, timeout=10)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return SmsCallback


@pytest.fixture
def tutorial_app_url(sandbox, live_server, settings, allow_callbacks_to):
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0),
        tutorial_app(f"{live_server.url}/sandbox/core/v2", settings.CARRIERX_TOKEN),
    )
    # The operator lists the callback app they run beside the sandbox.
    allow_callbacks_to(f"127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sms_callback"
    server.shutdown()
    server.server_close()


def test_the_tutorials_callback_app_answers_an_inbound_sms_through_the_sandbox(
    live_server, tutorial_app_url, settings
):
    SandboxDid.objects.filter(phonenumber=OUR_DID).update(callback_url=tutorial_app_url)
    response = requests.post(
        f"{live_server.url}/sandbox/simulate/inbound",
        json={"from": HANDSET, "to": OUR_DID, "message": "Hello, tutorial"},
        headers={"Authorization": f"Bearer {settings.CARRIERX_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["from_did"] == HANDSET  # the default naming is the tutorial's

    run_tasks()  # the sandbox calls the app; the app answers via the API; the answer progresses

    reply = SandboxMessage.objects.get(direction="outbound")
    assert (reply.from_number, reply.to_number) == (OUR_DID, HANDSET)
    assert reply.message == "The SMS status is: received"
    assert reply.status == "delivered"
