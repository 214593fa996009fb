from datetime import UTC, datetime

import pytest

from hls_operators.core.estimate import Prices, ProbedMovie, estimate, measured_speed
from hls_operators.core.waves import Hold, MovieOutcome, approval_request, finish_run, judge_wave, waits_for_approval

LADDER = [
    {"name": "720p", "width": 1280, "height": 720, "video_kbps": 2800},
    {"name": "360p", "width": 640, "height": 360, "video_kbps": 800},
]


def test_estimate_from_a_dry_run():
    movies = [
        ProbedMovie(1, 3600.0, LADDER, has_audio=True),
        ProbedMovie(2, 1800.0, LADDER[1:], has_audio=False),
        ProbedMovie(3, refused_as="corrupt"),
        ProbedMovie(4, refused_as="not_video"),
        ProbedMovie(5, refused_as="corrupt"),
    ]
    result = estimate(
        movies,
        audio_kbps=128,
        cpu_seconds_per_megapixel_second=2.0,
        speed_measured_on=7,
        prices=Prices(storage_per_gb_month=0.02, egress_per_gb=0.05, views_per_movie_month=10),
        segment_format="ts",
    )
    assert result.would_convert == [1, 2]
    assert result.refused == {"corrupt": [3, 5], "not_video": [4]}
    assert result.source_hours == pytest.approx(1.5)
    # (2928 + 928) kbit/s for an hour, 800 kbit/s for half an hour, plus 5 % MPEG-TS overhead.
    expected_bytes = (3856 * 3600 + 800 * 1800) * 1000 / 8 * 1.05
    assert result.output_bytes == pytest.approx(expected_bytes, rel=1e-9)
    # 1.152 megapixels for an hour plus 0.2304 for half an hour, at 2 CPU-s each.
    assert result.cpu_hours == pytest.approx((1.152 * 3600 + 0.2304 * 1800) * 2 / 3600)
    assert result.storage_per_month == pytest.approx(expected_bytes / 1e9 * 0.02)
    top_rungs = (2928 * 3600 + 800 * 1800) * 1000 / 8 * 1.05
    assert result.egress_per_month == pytest.approx(top_rungs / 1e9 * 10 * 0.05)
    lines = "\n".join(result.lines())
    assert "would refuse 3 movie(s): corrupt: [3, 5], not_video: [4]" in lines
    assert "measured on 7 recent transcodes" in lines
    # fMP4's boxes cost less than MPEG-TS's packets
    fmp4 = estimate(
        movies,
        audio_kbps=128,
        cpu_seconds_per_megapixel_second=2.0,
        speed_measured_on=7,
        prices=Prices(0.02, 0.05, 10),
        segment_format="fmp4",
    )
    assert fmp4.output_bytes == pytest.approx(expected_bytes / 1.05 * 1.01, rel=1e-9)


def test_copied_rungs_cost_no_encode_and_hevc_rungs_cost_x265s_share():
    ladder = [
        {"name": "720p", "width": 1280, "height": 720, "video_kbps": 2800, "source_copy": True},
        {"name": "360p", "width": 640, "height": 360, "video_kbps": 800},
        {"name": "360p-hevc", "width": 640, "height": 360, "video_kbps": 600, "codec": "hevc"},
    ]
    result = estimate(
        [ProbedMovie(1, 3600.0, ladder)],
        audio_kbps=128,
        cpu_seconds_per_megapixel_second=2.0,
        speed_measured_on=0,
        prices=Prices(0.02, 0.0, 10),
        segment_format="fmp4",
    )
    # Only the 360p rungs are encoded: 0.2304 megapixels in x264 and 0.2304 x 5.7 in x265, for an hour.
    assert result.cpu_hours == pytest.approx(0.2304 * (1 + 5.7) * 3600 * 2 / 3600)


def test_the_measured_speed_is_per_encoded_megapixel_second():
    copied_top = [
        {"name": "720p", "width": 1280, "height": 720, "video_kbps": 2800, "source_copy": True},
        {"name": "360p", "width": 640, "height": 360, "video_kbps": 800},
    ]
    hevc_twin = [
        {"name": "360p", "width": 640, "height": 360, "video_kbps": 800},
        {"name": "360p-hevc", "width": 640, "height": 360, "video_kbps": 600, "codec": "hevc"},
    ]
    # 46.08 CPU-s for 100 s of an encoded 360p rung, 308.7 CPU-s for 100 s of 360p in both codecs.
    assert measured_speed([(46.08, 100.0, copied_top)]) == pytest.approx(2.0)
    assert measured_speed([(46.08, 100.0, copied_top), (308.736, 100.0, hevc_twin)]) == pytest.approx(2.0)
    assert measured_speed([(3.0, 100.0, copied_top[:1])]) is None  # nothing was encoded


def wave(*classes: str | None) -> list[MovieOutcome]:
    """A wave's outcome: one movie per class, None for a converted movie."""
    return [MovieOutcome(i, "succeeded" if c is None else "failed", c, f"why {i}") for i, c in enumerate(classes, 1)]


@pytest.mark.parametrize(
    ("outcome", "hold", "red"),
    [
        (wave(None, None, None, "timeout"), None, None),  # 25 % is allowed, and a timeout is retried next time
        (
            wave(None, None, "timeout", "storage_unavailable"),
            "2 of 4 movies failed (50%, over the 25% allowed): timeout x1, storage_unavailable x1",
            "hold",
        ),
        # broken uploads are a report, not a failure rate: 9 refused of 12 hold nothing, a green wave
        (wave(None, None, None, *["corrupt"] * 5, *["not_video"] * 2, "unsupported", "source_forbidden"), None, None),
        # and they are out of the rate's base: 1 failure among the 2 movies that were not refused
        (
            wave(None, "worker_lost", "corrupt", "corrupt"),
            "1 of 2 movies failed (50%, over the 25% allowed; 2 refused as bad input, not counted): worker_lost x1",
            "hold",
        ),
        # a defect within the rate
        (wave(*[None] * 9, "internal"), None, "1 movie(s) failed in a way no retry mends: movie 10 [internal] why 10"),
        (wave(), None, None),
    ],
)
def test_a_wave_is_red_only_when_a_person_is_needed(outcome, hold, red):
    verdict = judge_wave(outcome, max_failure_rate=0.25)
    assert verdict.hold == hold
    assert verdict.needs_a_person == (hold if red == "hold" else red)
    bad_input = {"corrupt", "not_video", "unsupported", "source_forbidden"}
    assert [m.movie_id for m in verdict.refused] == [m.movie_id for m in outcome if m.error_class in bad_input]


def test_a_per_movie_run_is_red_when_its_movie_failed_and_only_a_wave_is_judged():
    refused = [MovieOutcome(7, "failed", "corrupt", "moov atom not found")]
    per_movie = finish_run(refused, wave=False, dry_run=False, in_a_wave=True, max_failure_rate=0.25)
    assert per_movie.failure == "the movie failed: movie 7 [corrupt] moov atom not found"
    assert per_movie.verdict is None and not per_movie.estimate
    wave = finish_run(refused, wave=True, dry_run=False, in_a_wave=False, max_failure_rate=0.25)
    assert wave.failure is None and wave.verdict.refused == refused  # a broken upload is a report


def test_a_dry_run_is_estimated_once_by_whoever_started_it():
    def estimated(wave: bool, in_a_wave: bool) -> bool:
        return finish_run([], wave=wave, dry_run=True, in_a_wave=in_a_wave, max_failure_rate=0.25).estimate

    assert estimated(wave=True, in_a_wave=False) and estimated(wave=False, in_a_wave=False)
    assert not estimated(wave=False, in_a_wave=True)  # the wave's estimate covers its movies


def test_only_a_catalog_wide_run_waits_for_approval_while_held():
    hold = Hold("scheduled__1", "3 of 4 movies failed", datetime(2026, 1, 1, tzinfo=UTC))
    assert waits_for_approval(hold, movie_ids=None, dry_run=False)
    assert not waits_for_approval(hold, movie_ids=[3], dry_run=False)
    assert not waits_for_approval(hold, movie_ids=None, dry_run=True)
    assert not waits_for_approval(None, movie_ids=None, dry_run=False)


def test_the_approval_request_lists_the_held_runs_failures_by_class():
    outcome = [
        MovieOutcome(1, "succeeded"),
        MovieOutcome(2, "failed", "storage_unavailable", "movie 2: 503 | twice\nat 0 s"),
        MovieOutcome(3, "failed", "timeout", "movie 3: transcode ran past 3600 s"),
        MovieOutcome(4, "failed", "storage_unavailable", "movie 4: timed out"),
        MovieOutcome(5, "failed", "corrupt", "movie 5: invalid data"),
    ]
    body = approval_request("scheduled__2026-11-29", "3 of 4 movies failed", outcome)
    rows = [line for line in body.splitlines() if line.startswith("| ")][2:]
    # the most frequent class first, every failed movie named once, a message cell never breaks the
    # table; the refused movie is no part of why the migration is held
    assert rows == [
        "| storage_unavailable | 2, 4 | movie 2: 503 \\| twice at 0 s |",
        "| timeout | 3 | movie 3: transcode ran past 3600 s |",
    ]
    assert body.startswith("Run `scheduled__2026-11-29` put the migration on hold: 3 of 4 movies failed.")
