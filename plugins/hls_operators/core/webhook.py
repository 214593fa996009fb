"""What the application's webhook receives when a movie is ready or failed, and how it is signed.

The body is the movie's row of ``hls_movie_status`` (docs/contract.md) with the event's name
and the run's id. The signature is ``sha256=`` + the hex HMAC-SHA256, keyed with the connection's
secret, of ``"{timestamp}.{body}"``: a receiver recomputes it from the raw body and the
``X-HLS-Timestamp`` header, and refuses a stale timestamp, so a captured delivery cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json

TIMESTAMP_HEADER = "X-HLS-Timestamp"
SIGNATURE_HEADER = "X-HLS-Signature"
EVENTS = {"ready": "movie.ready", "failed": "movie.failed"}


def event_body(status: dict, run_id: str) -> bytes:
    """The JSON body for a movie's status row (``ready`` or ``failed``)."""
    return json.dumps({"event": EVENTS[status["state"]], "run_id": run_id, **status}, sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def backoff_seconds(attempt: int, first: float) -> float:
    """The wait before delivery ``attempt`` (2, 3, ...): doubling from ``first``."""
    return first * 2 ** (attempt - 2)
