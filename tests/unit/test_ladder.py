from fractions import Fraction

import pytest
from hls_operators.core.ladder import Rung, choose_frame_rate, copy_refusal, parse_ladder, plan_ladder
from hls_operators.settings import DEFAULT_LADDER

SPECS = parse_ladder(DEFAULT_LADDER)


def sizes(rungs: list[Rung]) -> list[tuple[str, int, int, int]]:
    return [(r.name, r.width, r.height, r.video_kbps) for r in rungs]


def test_1080p_landscape_gets_the_full_ladder():
    assert sizes(plan_ladder(1920, 1080, SPECS)) == [
        ("1080p", 1920, 1080, 5000),
        ("720p", 1280, 720, 2800),
        ("480p", 854, 480, 1400),
        ("360p", 640, 360, 800),
    ]


def test_never_upscales():
    assert [r.name for r in plan_ladder(960, 540, SPECS)] == ["480p", "360p"]
    assert all(r.height <= 540 for r in plan_ladder(960, 540, SPECS))


def test_portrait_compares_the_short_side():
    rungs = plan_ladder(1080, 1920, SPECS)
    assert sizes(rungs)[:2] == [("1080p", 1080, 1920, 5000), ("720p", 720, 1280, 2800)]
    assert all(r.width < r.height for r in rungs)


def test_four_by_three_keeps_its_aspect_ratio():
    assert sizes(plan_ladder(640, 480, SPECS)) == [("480p", 640, 480, 1400), ("360p", 480, 360, 800)]


def test_source_below_the_lowest_rung_keeps_its_own_size():
    [rung] = plan_ladder(320, 240, SPECS)
    assert (rung.width, rung.height) == (320, 240)
    assert 64 <= rung.video_kbps < 800


def test_odd_sizes_give_even_dimensions_without_upscaling():
    for width, height in [(853, 480), (1919, 1079), (17, 15), (481, 361), (16, 16)]:
        for rung in plan_ladder(width, height, SPECS):
            assert rung.width % 2 == 0 and rung.height % 2 == 0
            assert rung.width <= width and rung.height <= height


def test_aspect_ratio_is_kept_within_rounding():
    for rung in plan_ladder(2048, 858, SPECS):  # 2.39:1 scope
        assert abs(rung.width / rung.height - 2048 / 858) < 0.02


def test_rate_control_caps_peaks_relative_to_target():
    rung = plan_ladder(1280, 720, SPECS)[0]
    assert rung.maxrate_kbps == 3080 and rung.bufsize_kbps == 5600


@pytest.mark.parametrize("text", ["", "720", "720:x", "721:1000", "720:0", "8:100"])
def test_bad_ladders_are_refused(text):
    with pytest.raises(ValueError):
        parse_ladder(text)


def test_ladder_is_sorted_highest_first():
    assert [s.short_side for s in parse_ladder("360:800,1080:5000,720:2800")] == [1080, 720, 360]


@pytest.mark.parametrize(
    ("avg", "nominal", "expected"),
    [
        (Fraction(30), Fraction(30), Fraction(30)),
        (Fraction(30000, 1001), Fraction(30000, 1001), Fraction(30000, 1001)),
        (Fraction(120), Fraction(120), Fraction(60)),
        (Fraction(50), Fraction(50), Fraction(50)),
        (Fraction(2997, 100), Fraction(1000), Fraction(30000, 1001)),  # VFR: nominal is a timebase artefact
        (Fraction(1800, 89), Fraction(30), Fraction(20)),  # VFR average snaps to a standard rate
        (Fraction(37, 2), Fraction(30), Fraction(18)),  # ... or to a whole number
        (None, None, Fraction(25)),
    ],
)
def test_frame_rate_is_kept_up_to_60(avg, nominal, expected):
    assert choose_frame_rate(avg, nominal) == expected


def compliant(**changes):
    values = dict(
        codec="h264", profile="High", pix_fmt="yuv420p", sample_aspect_ratio="1:1", interlaced=False,
        variable_frame_rate=False, rotation=0, size=(1280, 720), video_kbps=2500, frame_rate=Fraction(30),
        packets_per_second=30.0, keyframe_times=[1.4 + 2 * i for i in range(7)], duration=13.0,
        rung=Rung("720p", 1280, 720, 2800), segment_seconds=6,
    )  # fmt: skip
    values.update(changes)
    return copy_refusal(**values)


def test_a_compliant_source_may_be_copied_as_the_top_rung():
    assert compliant() is None  # keyframes every 2 s from the first packet's time on


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"codec": "hevc"}, "codec hevc"),
        ({"profile": "High 10"}, "profile High 10"),
        ({"pix_fmt": "yuv420p10le"}, "not 8-bit 4:2:0"),
        ({"sample_aspect_ratio": "4:3"}, "non-square"),
        ({"interlaced": True}, "interlaced"),
        ({"size": (1280, 718)}, "not the rung's 1280x720"),
        ({"video_kbps": 3200}, "over the rung's cap"),  # cap: 2800 x 1.1
        ({"packets_per_second": 60.0}, "frame rate changes"),
        ({"keyframe_times": [1.4 + 4 * i for i in range(4)]}, "no keyframe at 6 s"),  # a 4 s GOP misses 6 s
    ],
)
def test_anything_else_is_encoded(change, reason):
    assert reason in compliant(**change)
