import hashlib
import hmac
import json

from hls_operators.core.webhook import backoff_seconds, event_body, signed_headers


def test_the_body_is_the_status_row_with_its_event_and_the_signature_covers_timestamp_and_body():
    status = {"movie_id": 7, "state": "ready", "progress": 100, "master_url": "https://cdn.example/m.m3u8"}
    body = event_body(status, "manual__1")
    assert json.loads(body) == {**status, "event": "movie.ready", "run_id": "manual__1"}
    headers = signed_headers("s3cret", 1_700_000_000, body)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers == {
        "Content-Type": "application/json",
        "X-HLS-Timestamp": "1700000000",
        "X-HLS-Signature": f"sha256={expected}",
    }
    # another timestamp or another body, another signature: a delivery cannot be replayed or altered
    assert signed_headers("s3cret", 1_700_000_001, body)["X-HLS-Signature"] != headers["X-HLS-Signature"]
    assert signed_headers("s3cret", 1_700_000_000, body + b" ")["X-HLS-Signature"] != headers["X-HLS-Signature"]
    assert json.loads(event_body({**status, "state": "failed"}, "r"))["event"] == "movie.failed"


def test_retries_back_off_doubling():
    assert [backoff_seconds(attempt, 1.0) for attempt in (2, 3, 4)] == [1.0, 2.0, 4.0]
