import pytest
from hls_operators.core.estimate import Prices, ProbedMovie, estimate, measured_speed
from hls_operators.core.waves import approval_request, hold_reason

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
        movies, audio_kbps=128, cpu_seconds_per_megapixel_second=2.0, speed_measured_on=7,
        prices=Prices(storage_per_gb_month=0.02, egress_per_gb=0.05, views_per_movie_month=10), segment_format="ts",
    )  # fmt: skip
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
    fmp4 = estimate(movies, audio_kbps=128, cpu_seconds_per_megapixel_second=2.0, speed_measured_on=7,
                    prices=Prices(0.02, 0.05, 10), segment_format="fmp4")  # fmt: skip
    assert fmp4.output_bytes == pytest.approx(expected_bytes / 1.05 * 1.01, rel=1e-9)



def test_copied_rungs_cost_no_encode_and_hevc_rungs_cost_x265s_share():
    ladder = [
        {"name": "720p", "width": 1280, "height": 720, "video_kbps": 2800, "source_copy": True},
        {"name": "360p", "width": 640, "height": 360, "video_kbps": 800},
        {"name": "360p-hevc", "width": 640, "height": 360, "video_kbps": 600, "codec": "hevc"},
    ]
    result = estimate([ProbedMovie(1, 3600.0, ladder)], audio_kbps=128, cpu_seconds_per_megapixel_second=2.0,
                      speed_measured_on=0, prices=Prices(0.02, 0.0, 10), segment_format="fmp4")  # fmt: skip
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

@pytest.mark.parametrize(
    ("statuses", "classes", "held"),
    [
        (["succeeded"] * 3 + ["failed"], [None] * 3 + ["corrupt"], False),  # 25 % is allowed
        (["succeeded"] * 2 + ["failed"] * 2, [None, None, "timeout", "timeout"], True),
        ([], [], False),
    ],
)
def test_a_wave_over_the_failure_rate_holds_the_migration(statuses, classes, held):
    reason = hold_reason(statuses, classes, max_failure_rate=0.25)
    assert (reason is not None) == held
    if held:
        assert reason == "2 of 4 movies failed (50%, over the 25% allowed): timeout x2"


def test_the_approval_request_lists_the_held_runs_failures_by_class():
    outcome = [
        (1, "succeeded", None, None),
        (2, "failed", "corrupt", "movie 2: moov atom not found | twice\nat 0 s"),
        (3, "failed", "timeout", "movie 3: transcode ran past 3600 s"),
        (4, "failed", "corrupt", "movie 4: invalid data"),
    ]
    body = approval_request("scheduled__2026-11-29", "3 of 4 movies failed", outcome)
    rows = [line for line in body.splitlines() if line.startswith("| ")][2:]
    # the most frequent class first, every failed movie named once, a message cell never breaks the table
    assert rows == [
        "| corrupt | 2, 4 | movie 2: moov atom not found \\| twice at 0 s |",
        "| timeout | 3 | movie 3: transcode ran past 3600 s |",
    ]
    assert body.startswith("Run `scheduled__2026-11-29` put the migration on hold: 3 of 4 movies failed.")
