from fractions import Fraction

import pytest

from hls_operators.core.conformance import check_conformance, conformance_problems
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.playlists import (
    IFrameVariant,
    Variant,
    measure_bandwidth,
    parse_media_playlist,
    parse_stream_infs,
    write_master,
)
from hls_operators.core.trickplay import IFrame, iframe_bandwidth, parse_iframe_playlist, write_iframe_playlist


def media_playlist(durations: list[float]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for index, duration in enumerate(durations):
        lines += [f"#EXTINF:{duration:.6f},", f"seg_{index:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


# Two rungs of four segments (6, 6, 6 and a 0.1 s tail); the tail is small, as a tail is.
RUNGS = {"720p": (1280, 720, "avc1.64001F", 2_000_000), "360p": (640, 360, "avc1.64001E", 600_000)}
MEDIA = media_playlist([6.0, 6.0, 6.0, 0.1])


def stored_set(rates: dict[str, list[int]] | None = None) -> tuple[dict[str, int], dict[str, str]]:
    stored, texts = {}, {}
    for name, (_, _, _, bps) in RUNGS.items():
        per_segment = (rates or {}).get(name, [bps] * 4)
        for index, (segment, rate) in enumerate(zip(parse_media_playlist(MEDIA), per_segment)):
            stored[f"{name}/seg_{index:05d}.ts"] = int(rate * segment.duration / 8)
        texts[f"{name}/index.m3u8"] = MEDIA
        texts[f"{name}/iframes.m3u8"] = write_iframe_playlist(
            [
                IFrame(f"seg_{i:05d}.ts", 0, size, duration)
                for i, (size, duration) in enumerate([(40_000, 6.0), (42_000, 6.0), (41_000, 6.0), (1_000, 0.1)])
            ]
        )
    return stored, texts


def master_for(stored: dict[str, int], texts: dict[str, str], ranges: dict[str, str] | None = None, **overrides) -> str:
    variants, iframes = [], []
    for name, (width, height, codec, _) in RUNGS.items():
        sizes = {s.uri: stored[f"{name}/{s.uri}"] for s in parse_media_playlist(MEDIA)}
        peak, average = measure_bandwidth(parse_media_playlist(MEDIA), sizes, 6)
        video_range = (ranges or {}).get(name)
        variants.append(
            Variant(f"{name}/index.m3u8", width, height, Fraction(30), f"{codec},mp4a.40.2", peak, average, video_range)
        )
        i_peak, i_average = iframe_bandwidth(parse_iframe_playlist(texts[f"{name}/iframes.m3u8"]), 6)
        iframes.append(IFrameVariant(f"{name}/iframes.m3u8", width, height, codec, i_peak, i_average, video_range))
    text = write_master(variants, iframes)
    for old, new in overrides.items():
        text = text.replace(old, new)
    return text


def test_a_set_written_by_the_pipeline_conforms():
    stored, texts = stored_set()
    master = master_for(stored, texts)
    assert conformance_problems(master, texts, stored) == []
    check_conformance(master, texts, stored)
    streams = parse_stream_infs(master)
    assert [(s.uri, s.iframes) for s in streams] == [
        ("360p/index.m3u8", False),
        ("720p/index.m3u8", False),
        ("720p/iframes.m3u8", True),
        ("360p/iframes.m3u8", True),
    ]
    assert streams[1].number("RESOLUTION") is None and streams[1].attributes["RESOLUTION"] == "1280x720"


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"avc1.64001F,": "avc1.640033,"}, "[apple 1.3 H.264 level] 720p/index.m3u8: Level 5.1 is above 4.2"),
        ({"avc1.64001F,": "avc1.6E001F,"}, "[apple 1.3 H.264 profile] 720p/index.m3u8: profile_idc 110 is above High"),
        (
            {"RESOLUTION=1280x720,FRAME-RATE=30.000": "RESOLUTION=1280x720,FRAME-RATE=120.000"},
            "120.000 fps is above 60",
        ),
        (
            {"RESOLUTION=640x360,FRAME-RATE": "RESOLUTION=1920x1080,FRAME-RATE"},
            "1920x1080 is larger than Level 3.0 allows",
        ),
        ({"#EXT-X-INDEPENDENT-SEGMENTS\n": ""}, "[independent segments]"),
        ({'CODECS="avc1.64001E,mp4a.40.2"': 'CODECS="mp4a.40.2"'}, "declares no H.264 or HEVC video codec"),
        (
            {'"avc1.64001F,': '"hvc1.2.4.L153.B0,'},
            "[apple 1.6 HEVC level] 720p/index.m3u8: hvc1.2.4.L153.B0 is above Level 5.0",
        ),
        (
            {'"avc1.64001F,': '"hvc1.4.10.L93.90,'},
            "[apple 1.6 HEVC profile] 720p/index.m3u8: hvc1.4.10.L93.90 is not Main or Main10",
        ),
        (
            {'"avc1.64001F,': '"hvc1.1.6.L63.90,'},
            "[apple 1.6 HEVC level] 720p/index.m3u8: 1280x720 is larger than Level 2.1 allows",
        ),
        # the test's media playlists are MPEG-TS: no EXT-X-MAP
        (
            {'"avc1.64001F,': '"hvc1.1.6.L93.90,'},
            "[apple 1.5 HEVC container] 720p/index.m3u8: HEVC in segments that are not fMP4",
        ),
        ({'"avc1.64001F,': '"hvc1.x,'}, "[CODECS] 720p/index.m3u8: hvc1.x is not an RFC 6381 HEVC string"),
    ],
)
def test_each_broken_rule_is_named(overrides, rule):
    stored, texts = stored_set()
    master = master_for(stored, texts, **overrides)
    with pytest.raises(MigrationError) as caught:
        check_conformance(master, texts, stored)
    assert caught.value.error_class is ErrorClass.VERIFICATION_FAILED
    assert rule in caught.value.message


def test_declared_bandwidths_must_be_within_ten_percent_of_the_rfc_measure():
    stored, texts = stored_set()
    master = master_for(stored, texts)
    declared = parse_stream_infs(master)[1].number("BANDWIDTH")
    assert (
        conformance_problems(
            master.replace(f"BANDWIDTH={declared},", f"BANDWIDTH={int(declared * 1.09)},"), texts, stored
        )
        == []
    )
    inflated = master.replace(f"BANDWIDTH={declared},", f"BANDWIDTH={int(declared * 1.25)},")
    [problem] = conformance_problems(inflated, texts, stored)
    assert problem.startswith("[apple bit rates BANDWIDTH] 720p/index.m3u8 declares")
    # the I-frame streams too: a peak taken over the 0.1 s tail entry alone is far over the measure
    iframe_peak = parse_stream_infs(master)[2].number("BANDWIDTH")
    assert (
        "[apple bit rates BANDWIDTH] 720p/iframes.m3u8"
        in conformance_problems(master.replace(f"BANDWIDTH={iframe_peak},", "BANDWIDTH=80000000,"), texts, stored)[0]
    )


def test_the_top_rung_listed_first_and_a_peak_over_twice_the_average_are_refused():
    stored, texts = stored_set()
    master = master_for(stored, texts)
    lines = master.splitlines()
    top_first = "\n".join([*lines[:3], *lines[5:7], *lines[3:5], *lines[7:]]) + "\n"
    assert conformance_problems(top_first, texts, stored) == [
        "[first variant] 720p/index.m3u8, the top rung, is listed first: every playback would start on it"
    ]
    # the only H.264 rung first, above an HEVC rung: where a player without HEVC must start
    twin_below = top_first.replace('"avc1.64001E', '"hvc1.1.6.L63.90')
    assert not any(p.startswith("[first variant]") for p in conformance_problems(twin_below, texts, stored))
    bursty, bursty_texts = stored_set({"360p": [100_000, 100_000, 1_700_000, 100_000]})
    problems = conformance_problems(master_for(bursty, bursty_texts), bursty_texts, bursty)
    assert problems == [problems[0]] and problems[0].startswith("[apple bit rates peak to average] 360p/index.m3u8")


def range_problems(ranges: dict[str, str], **overrides) -> list[str]:
    stored, texts = stored_set()
    problems = conformance_problems(master_for(stored, texts, ranges, **overrides), texts, stored)
    return [p for p in problems if "RANGE" in p or "HDR" in p or "SDR" in p]


def test_hdr_variants_are_hevc_main10_beside_sdr_ones_and_every_stream_says_its_range():
    hevc_main10 = {'"avc1.64001F': '"hvc1.2.4.L93.B0'}  # the 720p variant and its I-frame playlist
    assert range_problems({"720p": "PQ", "360p": "SDR"}, **hevc_main10) == []
    assert range_problems({"720p": "HLG", "360p": "SDR"}, **hevc_main10) == []
    assert range_problems({"720p": "PQ", "360p": "SDR"}) == [
        "[apple 1.7 HDR codec] 720p/index.m3u8: PQ in avc1.64001F, not HEVC Main10",
        "[apple 1.7 HDR codec] 720p/iframes.m3u8: PQ in avc1.64001F, not HEVC Main10",
    ]
    assert (
        range_problems({"720p": "HLG", "360p": "SDR"}, **{'"avc1.64001F': '"hvc1.1.6.L93.B0'})[0]
        == (
            "[apple 1.7 HDR codec] 720p/index.m3u8: HLG in hvc1.1.6.L93.B0, not HEVC Main10"  # 8-bit Main is no HDR10 or HLG
        )
    )
    assert range_problems({"720p": "PQ"}, **hevc_main10) == [
        "[apple HDR VIDEO-RANGE] HDR variants beside streams that declare no VIDEO-RANGE: 360p/index.m3u8, 360p/iframes.m3u8"
    ]
    assert range_problems({"720p": "PQ", "360p": "PQ"}, **{'"avc1.64001': '"hvc1.2.4.L93.B0,'}) == [
        "[apple 1.24 SDR variants] HDR variants without an SDR one",
        "[apple 6.16 SDR trick play] HDR I-frame playlists without an SDR one",
    ]
    assert (
        range_problems({"720p": "HDR10", "360p": "SDR"})[0]
        == "[VIDEO-RANGE] 720p/index.m3u8: HDR10 is not SDR, PQ or HLG"
    )
    assert range_problems({}) == []  # an SDR set need not say so


@pytest.mark.parametrize(
    ("forged", "problem"),
    [
        # a line that players splitting on U+2028 read, and a parser splitting on LF alone would not
        (
            "\u2028#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=subs,NAME=x,FORCED=YES,URI=https://evil.example/x.m3u8",
            "'https://evil.example/x.m3u8', which is not a file of the set",
        ),
        (
            "\u2028#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=subs,NAME=x,FORCED=YES,URI=https://evil.example/x.m3u8",
            "the master has a line break other than LF",
        ),
        (
            '\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="x",URI="../../other/audio.m3u8"',
            "'../../other/audio.m3u8', which is not a file of the set",
        ),
        ('\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="empty"', "the subtitles rendition 'empty' names no file"),
    ],
)
def test_a_rendition_or_uri_outside_the_stored_set_is_refused(forged, problem):
    stored, texts = stored_set()
    master = master_for(stored, texts).replace("#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-INDEPENDENT-SEGMENTS" + forged)
    assert any(problem in found for found in conformance_problems(master, texts, stored))
