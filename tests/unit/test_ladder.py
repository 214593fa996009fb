from fractions import Fraction

import pytest

from hls_operators.core.ladder import (
    Rung,
    choose_frame_rate,
    fit_box,
    h264_level,
    max_reference_frames,
    parse_ladder,
    plan_ladder,
    redundant_rungs,
    with_hevc_rungs,
)
from hls_operators.core.source_copy import copy_refusal
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
    assert all(r.height <= 540 and r.width <= 960 for r in plan_ladder(960, 540, SPECS))
    assert all(r.height <= 480 for r in plan_ladder(854, 480, SPECS))


@pytest.mark.parametrize(
    "size, expected",
    [
        # 540p and 576p replace the 480p rung they would have been cut down to (under 1.5x its pixels).
        ((960, 540), [("540p", 960, 540, 1697), ("360p", 640, 360, 800)]),
        ((1024, 576), [("576p", 1024, 576, 1892), ("360p", 640, 360, 800)]),
        # 16:10 800p would have been cut to 1152x720.
        ((1280, 800), [("800p", 1280, 800, 3213), ("480p", 768, 480, 1400), ("360p", 576, 360, 800)]),
        # 900p is far enough above 720p to keep it.
        (
            (1600, 900),
            [("900p", 1600, 900, 3790), ("720p", 1280, 720, 2800), ("480p", 854, 480, 1400), ("360p", 640, 360, 800)],
        ),
        # Within 1.2x of a rung: cut down to it.
        ((889, 500), [("480p", 854, 480, 1400), ("360p", 640, 360, 800)]),
    ],
)
def test_a_source_between_two_rungs_gets_a_rung_at_its_own_size(size, expected):
    rungs = plan_ladder(*size, SPECS)
    assert sizes(rungs) == expected
    own_size = (rungs[0].width, rungs[0].height) == size
    assert rungs[0].reason.startswith("the source's own size") == own_size and all(r.reason for r in rungs)


def test_above_the_top_rung_the_source_is_cut_down_to_it():
    assert sizes(plan_ladder(2560, 1440, SPECS))[0] == ("1080p", 1920, 1080, 5000)


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
    assert rung.reason == "the source's own size, below the lowest rung (360p)"


LADDER = plan_ladder(1920, 1080, SPECS)


@pytest.mark.parametrize(
    "kbps, dropped",
    [
        # At the caps, every rung is a step of 1.5 or more below the one above.
        ({"1080p": 5000, "720p": 2800, "480p": 1400, "360p": 800}, {}),
        # A soft picture: 720p barely cheaper than 1080p goes; 480p is then compared with 1080p.
        (
            {"1080p": 1000, "720p": 800, "480p": 600, "360p": 300},
            {"720p": "redundant: 800 kbit/s, 80% of 1080p's 1000"},
        ),
        # The lowest rung stays for the slowest links: the one above it goes instead.
        (
            {"1080p": 1000, "720p": 600, "480p": 300, "360p": 250},
            {"480p": "redundant: the lowest rung 360p is at 250 kbit/s, 83% of 480p's 300, and the lowest stays"},
        ),
        # ... unless that one is the top rung.
        (
            {"1080p": 1000, "720p": 900, "480p": 850, "360p": 800},
            {
                "720p": "redundant: 900 kbit/s, 90% of 1080p's 1000",
                "480p": "redundant: 850 kbit/s, 85% of 1080p's 1000",
            },
        ),
        # A copied top rung's bitrate is not measured: the rung below it stays, the rest are compared.
        ({"720p": 900, "480p": 850, "360p": 300}, {"480p": "redundant: 850 kbit/s, 94% of 720p's 900"}),
    ],
)
def test_rungs_barely_cheaper_than_the_one_above_are_dropped(kbps, dropped):
    assert redundant_rungs(LADDER, kbps) == dropped


def test_hevc_twins_follow_the_h264_rungs_at_three_quarters_of_their_bitrate_and_are_always_encoded():
    copied = [Rung("720p", 1280, 720, 2800, source_copy=True), *plan_ladder(1280, 720, SPECS)[1:]]
    ladder = with_hevc_rungs(copied)
    assert [(r.name, r.codec, r.width, r.height, r.video_kbps, r.source_copy) for r in ladder[3:]] == [
        ("720p-hevc", "hevc", 1280, 720, 2100, False),
        ("480p-hevc", "hevc", 854, 480, 1050, False),
        ("360p-hevc", "hevc", 640, 360, 600, False),
    ]
    assert ladder[:3] == copied and ladder[3].reason == "HEVC beside 720p, for the players that decode it"
    assert Rung.from_dict(ladder[3].to_dict()) == ladder[3]
    planned_before_hevc = {key: value for key, value in copied[0].to_dict().items() if key != "codec"}
    assert Rung.from_dict(planned_before_hevc) == copied[0]  # a job planned before the codec field reads as H.264


def test_each_codec_drops_its_redundant_rungs_on_its_own():
    ladder = with_hevc_rungs(LADDER)
    kbps = {
        "1080p": 5000,
        "720p": 2800,
        "480p": 1400,
        "360p": 800,
        "1080p-hevc": 700,
        "720p-hevc": 600,
        "480p-hevc": 300,
        "360p-hevc": 200,
    }
    # HEVC 720p is compared with HEVC 1080p, not with an H.264 rung; H.264 keeps every rung.
    assert redundant_rungs(ladder, kbps) == {"720p-hevc": "redundant: 600 kbit/s, 86% of 1080p-hevc's 700"}


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
        codec="h264",
        profile="High",
        pix_fmt="yuv420p",
        sample_aspect_ratio="1:1",
        interlaced=False,
        variable_frame_rate=False,
        rotation=0,
        size=(1280, 720),
        video_kbps=2500,
        frame_rate=Fraction(30),
        packets_per_second=30.0,
        level=31,
        reference_frames=4,
        keyframe_times=[1.4 + 2 * i for i in range(7)],
        duration=13.0,
        rung=Rung("720p", 1280, 720, 2800),
        segment_seconds=6,
    )
    values.update(changes)
    if "idr_times" not in changes:
        values["idr_times"] = values["keyframe_times"]  # a closed GOP: every keyframe an IDR
    return copy_refusal(**values)


def test_a_compliant_source_may_be_copied_as_the_top_rung():
    assert compliant() is None  # keyframes every 2 s from the first packet's time on
    # a keyframe a third of a frame late is still on its boundary: the muxer cuts there
    assert compliant(keyframe_times=[1.4 + 2 * i + (0.01 if i == 3 else 0) for i in range(7)]) is None


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
        ({"level": 51}, "Level 5.1 is above Apple's 4.2"),
        ({"reference_frames": 10}, "10 reference frames, more than Level 3.1 allows at 1280x720 (5)"),
        # open GOP: keyframes every 2 s, but only the first is an IDR
        ({"idr_times": [1.4]}, "the keyframe at 6 s is not an IDR frame (open GOP)"),
        # one-sided: the muxer cuts at or after a boundary, so a keyframe a third of a frame early is not on it
        ({"keyframe_times": [1.4 + 2 * i - (0.01 if i == 3 else 0) for i in range(7)]}, "no keyframe at 6 s"),
    ],
)
def test_anything_else_is_encoded(change, reason):
    assert reason in compliant(**change)


def test_each_rung_fits_the_16_by_9_box_of_its_name():
    """A 2.39:1 scope film's 1080p rung is 1920 wide, not 1080 high (2586x1080 is above Level 4.2)."""
    assert sizes(plan_ladder(3840, 1604, SPECS)) == [
        ("1080p", 1920, 802, 5000),
        ("720p", 1280, 534, 2800),
        ("480p", 854, 356, 1400),
        ("360p", 640, 268, 800),
    ]
    # a 1920x800 source is the 1080p rung's own size, no longer cut down to 720p
    assert sizes(plan_ladder(1920, 800, SPECS))[0] == ("1080p", 1920, 800, 5000)
    # portrait taller than 9:16 fits the 1080x1920 box by its height
    assert sizes(plan_ladder(1080, 2400, SPECS))[0] == ("1080p", 864, 1920, 5000)
    assert fit_box(720, 1440, 1080) == (960, 720)  # narrower than 16:9: the short side sets the size


@pytest.mark.parametrize(
    ("size", "rate", "maxrate", "level"),
    [
        ((640, 360), Fraction(30), 880, 30),
        ((854, 480), Fraction(30), 1540, 31),
        ((1280, 720), Fraction(30), 3080, 31),
        ((1280, 720), Fraction(60), 3080, 32),
        ((1920, 1080), Fraction(30), 5500, 40),
        ((1920, 1080), Fraction(60), 5500, 42),
        ((1920, 802), Fraction(24), 5500, 40),
        ((1080, 1920), Fraction(60000, 1001), 5500, 42),
        ((320, 240), Fraction(25), 400, 13),
        ((1280, 720), Fraction(30), 26_000, 41),  # over the 25 Mbit/s of Levels 3.2 and 4.0 (High)
    ],
)
def test_h264_level_is_the_lowest_that_holds_the_rung(size, rate, maxrate, level):
    assert h264_level(*size, rate, maxrate) == level


def test_nothing_above_level_4_2_is_planned():
    with pytest.raises(ValueError, match="above H.264 Level 4.2"):
        h264_level(2560, 1440, Fraction(30), 8000)
    for source in [(3840, 2160), (3840, 1604), (2160, 3840), (4096, 1716)]:
        for rung in plan_ladder(*source, SPECS):
            assert h264_level(rung.width, rung.height, Fraction(60), rung.maxrate_kbps) <= 42
    assert max_reference_frames(42, 1920, 1080) == 4 and max_reference_frames(31, 1280, 720) == 5
