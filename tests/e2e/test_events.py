"""What the application hears from a real run: an Asset event per published movie, and its webhook,
signed, retried after a 500, every try recorded."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest

from devenv import media, services
from devenv.catalog_seed import SeedMovie
from hls_operators.settings import CONVERT_DAG_ID, PUBLISHED_ASSET_NAME
from tests import hostile_media

pytestmark = [pytest.mark.services, pytest.mark.airflow]
SECRET = "a-test-secret-of-the-application"
READY, FAILED = 1, 2


class Receiver(http.server.ThreadingHTTPServer):
    """The application's endpoint on loopback: checks every signature, answers 500 to the first
    delivery it gets, 200 to the others."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-HLS-Timestamp"]
                expected = (
                    "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
                )
                valid = (
                    hmac.compare_digest(expected, self.headers["X-HLS-Signature"])
                    and abs(time.time() - int(timestamp)) < 300
                )
                receiver.received.append({"valid": valid, "body": json.loads(body)})
                self.send_response(500 if len(receiver.received) == 1 else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", services.free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/hls"


@pytest.fixture(scope="module")
def run(pipeline, celery_airflow, tmp_path_factory):
    folder = tmp_path_factory.mktemp("events")
    pipeline.seed(
        movies=[
            SeedMovie(READY, "Ready", media.generate_movie(folder / "ready.mp4", width=640, height=360, seconds=3)),
            SeedMovie(FAILED, "Text named mp4", hostile_media.make_refused("text", folder)),
        ],
    )
    receiver = Receiver()
    webhook = json.dumps({"conn_type": "http", "host": receiver.url, "password": SECRET})
    finished = pipeline.run(
        "hls_migration",
        {"movie_ids": [READY, FAILED]},
        cluster=celery_airflow,  # the LocalExecutor Airflow has the longer queue of tests
        connections={"hls_webhook": webhook},
        variables={"hls_webhook_first_backoff_seconds": "0.2", "hls_tmp_dir": ""},  # each worker its own folder
    )
    receiver.shutdown()
    return receiver, finished.cluster


def test_the_application_hears_of_each_movie_signed_and_after_a_failed_delivery(pipeline, run):
    receiver, _cluster = run
    assert all(r["valid"] for r in receiver.received)
    events = {(r["body"]["movie_id"], r["body"]["event"]) for r in receiver.received}
    assert events == {(READY, "movie.ready"), (FAILED, "movie.failed")}
    [(master_url,)] = pipeline.query("SELECT video_url FROM movies WHERE id = %s", (READY,))
    ready = next(r["body"] for r in receiver.received if r["body"]["event"] == "movie.ready")
    assert (ready["state"], ready["progress"], ready["master_url"]) == ("ready", 100, master_url)
    failed = next(r["body"] for r in receiver.received if r["body"]["event"] == "movie.failed")
    assert (failed["state"], failed["error_class"]) == ("failed", "not_video")
    # the first delivery got a 500 and was tried again; every try is in the ledger
    deliveries = pipeline.query("SELECT movie_id, event, attempt, status_code FROM hls_webhook_deliveries ORDER BY id")
    assert deliveries[0][2:] == (1, 500) and deliveries[1][:3] == (deliveries[0][0], deliveries[0][1], 2)
    assert [d[3] for d in deliveries] == [500, 200, 200] and len(receiver.received) == 3


def test_each_published_movie_is_an_event_of_the_published_asset(pipeline, run):
    _receiver, cluster = run
    events = cluster.listing(f"/api/v2/assets/events?source_dag_id={CONVERT_DAG_ID}", "asset_events")
    [(master_url,)] = pipeline.query("SELECT video_url FROM movies WHERE id = %s", (READY,))
    # this test's events: the session's Airflow has the other tests' too
    extras = [
        event["extra"]
        for event in events
        if event["name"] == PUBLISHED_ASSET_NAME and event["extra"]["master_url"].startswith(pipeline.public_base_url)
    ]
    assert [(e["movie_id"], e["master_url"]) for e in extras] == [(READY, master_url)]  # the failed movie has none
    assert master_url.split("/")[-2] == extras[0]["version"]
