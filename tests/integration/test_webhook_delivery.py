"""The application's webhook against a real receiver on loopback: the connection must carry a
signing secret, and the URL's token never reaches a log or the ledger's record of a try."""

from __future__ import annotations

import json
import logging

import pytest

from devenv import services
from hls_operators.edges.webhook import deliver
from hls_operators.hooks import WebhookHook
from tests import loopback

pytestmark = pytest.mark.services  # a real HTTP receiver


def test_a_webhook_connection_without_a_secret_is_refused(monkeypatch):
    """Signed with an empty key, a delivery is one anybody can forge."""
    connection = {"conn_type": "http", "host": "https://app.example/hooks/hls?token=t0k3n"}
    monkeypatch.setenv("AIRFLOW_CONN_HLS_WEBHOOK", json.dumps(connection))
    with pytest.raises(ValueError, match="no password"):
        WebhookHook().endpoint()
    monkeypatch.setenv("AIRFLOW_CONN_HLS_WEBHOOK", json.dumps({**connection, "password": "s3cret-key"}))
    assert WebhookHook().endpoint() == ("https://app.example/hooks/hls?token=t0k3n", "s3cret-key")


def test_the_webhook_urls_token_is_sent_but_never_logged_or_recorded(caplog):
    received: list[str] = []

    class Receiver(loopback.QuietHandler):
        def do_POST(self):
            received.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = loopback.serve(Receiver)
    live = f"http://127.0.0.1:{server.server_address[1]}/hooks/hls?token=t0k3n"
    gone = f"http://user:pa55word@127.0.0.1:{services.free_port()}/h?token=t0k3n"  # nothing listens: the error names the URL
    recorded = []
    try:
        with caplog.at_level(logging.INFO):
            for url in (live, gone):
                assert not deliver(
                    url,
                    "s3cret-key",
                    b"{}",
                    attempts=2,
                    first_backoff=0,
                    timeout=2,
                    record=recorded.append,
                    log=logging.getLogger("webhook"),
                    sleep=lambda _seconds: None,
                )
    finally:
        server.shutdown()
    assert received == ["/hooks/hls?token=t0k3n"] * 2  # the receiver gets its token
    shown = caplog.text + " ".join(delivery.detail for delivery in recorded)
    assert "127.0.0.1" in caplog.text and "t0k3n" not in shown and "pa55word" not in shown
