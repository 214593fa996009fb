"""Delivering the application's webhook: signed, retried with back-off, every try recorded, and
never allowed to fail the conversion it reports on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import urllib3

from hls_operators.core.errors import bound_message, redacted
from hls_operators.core.webhook import backoff_seconds, signed_headers

RESPONSE_EXCERPT = 500


@dataclass(frozen=True)
class Delivery:
    """One try: the HTTP status (None when no answer came) and what came back or went wrong."""

    attempt: int
    status_code: int | None
    detail: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver(
    url: str,
    secret: str,
    body: bytes,
    *,
    attempts: int,
    first_backoff: float,
    timeout: float,
    record: Callable[[Delivery], None],
    log: logging.Logger,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST ``body`` to ``url`` until a 2xx answer or ``attempts`` tries, each signed afresh (a new
    timestamp) and recorded; returns whether it was delivered. Never raises."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False)
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            sleep(backoff_seconds(attempt, first_backoff))
        try:
            response = http.request("POST", url, body=body, headers=signed_headers(secret, int(time.time()), body))
            delivery = Delivery(
                attempt, response.status, bound_message(response.data.decode("utf-8", "replace"), RESPONSE_EXCERPT)
            )
        except urllib3.exceptions.HTTPError as error:
            delivery = Delivery(
                attempt, None, bound_message(redacted(f"{type(error).__name__}: {error}"), RESPONSE_EXCERPT)
            )
        try:
            record(delivery)
        except Exception as error:  # the ledger may be down: the delivery itself still counts
            log.warning("webhook try %d could not be recorded: %s", attempt, error)
        log.info("webhook %s try %d: %s", redacted(url), attempt, delivery.status_code or delivery.detail)
        if delivery.delivered:
            return True
    log.warning("webhook %s not delivered after %d tries", redacted(url), attempts)
    return False
