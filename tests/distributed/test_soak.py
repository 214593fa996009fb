"""The chaos soak, small: 12 movies (two of them bad) on the session's Celery cluster while every
fault of ``devenv/soak.py`` is injected, then one recovery run. ``make soak`` runs the same with 60
movies and outages twice as long."""

from __future__ import annotations

import pytest

from devenv import soak
from hls_operators.core.errors import BAD_INPUT, RETRYABLE

pytestmark = [pytest.mark.services, pytest.mark.airflow, pytest.mark.chaos]


def test_a_catalog_converted_under_faults_loses_nothing_and_publishes_nothing_half(celery_airflow, artifacts):
    root = artifacts / "soak"
    root.mkdir()
    outages = {fault: seconds / 2 for fault, seconds in soak.OUTAGES.items()}  # still past a retry's back-off
    result = soak.run_soak(root, celery_airflow, movies=12, outages=outages)
    print(result.report())
    assert (artifacts / "soak-report.txt").write_text(result.report())
    assert set(result.injected) | set(result.skipped) == set(soak.FAULTS)
    assert "worker_killed" in result.injected and "ffmpeg_killed" in result.injected
    # every good movie converted exactly once, no bad one, nothing half-published or left behind
    assert result.lost == [] and result.bad_converted == [] and result.double_converted == []
    assert result.half_published == []
    assert result.claims_left == [] and result.open_attempts == 0
    # the kills are seen for what they are (two kills may land on one movie's attempt: at least
    # one worker_lost); the other faults are reported (see the report)
    assert result.classes["worker_lost"] >= 1
    # every failure is either a bad source or a fault of the environment (retried), never a good
    # movie refused for good: the bad movies' classes, the rest retryable
    assert {"not_video", "corrupt"} <= set(result.classes)
    assert set(result.classes) <= {c.value for c in RETRYABLE | BAD_INPUT}, result.classes
