"""What one movie's tasks hand each other through XCom and conf, typed: the claimed movie is read
the same from the selection's payload and from a probed job's, and the wave survives its conf."""

from __future__ import annotations

import json

from hls_operators.core.chunks import Chunk
from hls_operators.core.job import ClaimedMovie, MovieJob, Wave
from hls_operators.core.ladder import Rung
from tests.probes import make_probe

CLAIMED = ClaimedMovie(42, "s3://catalog/uploads/42.mp4", "https://cdn.example/uploads/42.mp4")


def test_a_claimed_movie_is_read_from_the_selection_and_from_a_probed_job_alike():
    selection = json.loads(json.dumps(CLAIMED.to_dict()))
    job = MovieJob(
        CLAIMED.movie_id,
        CLAIMED.source_url,
        CLAIMED.expected_url,
        "20261207T180000Z-abc123",
        make_probe(),
        [Rung("1080p", 1920, 1080, 5000)],
        [Chunk(0, 0, None)],
    )
    assert ClaimedMovie.from_dict(selection) == CLAIMED == ClaimedMovie.from_dict(job.to_dict())
    assert ClaimedMovie.from_dict({**selection, "movie_id": "42"}).movie_id == 42  # templated conf may be text


def test_the_wave_of_a_movie_run_survives_its_conf():
    wave = Wave("hls_migration", "scheduled__2026-12-07T02:00:00+00:00", 3)
    assert Wave.from_dict(json.loads(json.dumps(wave.to_dict()))) == wave
