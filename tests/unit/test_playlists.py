import math
from dataclasses import replace
from fractions import Fraction

import m3u8
import pytest

from hls_operators.core.playlists import (
    IFrameVariant,
    Rendition,
    Segment,
    Variant,
    measure_bandwidth,
    parse_iframe_uris,
    parse_master_playlist,
    parse_media_playlist,
    parse_rendition_uris,
    parse_target_duration,
    peak_bit_rate,
    write_master,
)
from hls_operators.core.video_codecs import avc_codec_string, hevc_codec_string

MEDIA = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:6.000000,
seg_00000.ts
#EXTINF:6.000000,
seg_00001.ts
#EXTINF:0.500000,
seg_00002.ts
#EXT-X-ENDLIST
"""


def test_media_playlist_segments():
    assert parse_media_playlist(MEDIA) == [
        Segment("seg_00000.ts", 6.0),
        Segment("seg_00001.ts", 6.0),
        Segment("seg_00002.ts", 0.5),
    ]


def test_not_a_playlist():
    with pytest.raises(ValueError):
        parse_media_playlist("<html>")


def test_bandwidth_is_peak_segment_rate_and_average():
    segments = parse_media_playlist(MEDIA)
    sizes = {"seg_00000.ts": 750_000, "seg_00001.ts": 1_500_000, "seg_00002.ts": 50_000}
    peak, average = measure_bandwidth(segments, sizes, parse_target_duration(MEDIA))
    assert peak == 2_000_000  # 1.5 MB in 6 s
    assert average == round(2_300_000 * 8 / 12.5)


def test_a_short_tail_segment_alone_is_no_peak():
    """RFC 8216 4.3.4.2: the peak is over runs of segments lasting 0.5 to 1.5 target durations, so a
    0.5 s tail counts only with the segment before it (alone it would declare 3.2 Mbit/s here)."""
    segments = parse_media_playlist(MEDIA)
    sizes = {"seg_00000.ts": 750_000, "seg_00001.ts": 750_000, "seg_00002.ts": 200_000}
    peak, _ = measure_bandwidth(segments, sizes, 6)
    assert peak == math.ceil(950_000 * 8 / 6.5)
    assert peak_bit_rate([(1000, 0.5), (1000, 0.5)], 6) == 16_000  # shorter than half the target: the whole


@pytest.mark.parametrize(
    ("profile", "level", "expected"),
    [("High", 40, "avc1.640028"), ("Main", 31, "avc1.4D401F"), ("Constrained Baseline", 30, "avc1.42E01E")],
)
def test_avc_codec_strings(profile, level, expected):
    assert avc_codec_string(profile, level) == expected


def init_section(sample_entry: bytes, record: bytes) -> bytes:
    """The boxes an fMP4 init section nests its sample entry in, down to the HEVC record (sizes aside)."""
    return (
        b"\0\0\0\x18ftypiso5"
        + b"\0" * 12
        + b"\0\0\0\0stsd"
        + b"\0" * 8
        + b"\0\0\0\0"
        + sample_entry
        + b"\0" * 78
        + b"\0\0\0\0hvcC"
        + record
    )


@pytest.mark.parametrize(
    ("entry", "record", "expected"),
    [
        # x265 Main, Level 4, progressive frame-only content: profile 1, compatible with 1 and 2 (bits reversed: 6)
        (b"hvc1", bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 120]), "hvc1.1.6.L120.90"),
        # Main10 in High tier at Level 5.1, in-band parameter sets, two constraint bytes
        (b"hev1", bytes([1, 0x22, 0x20, 0, 0, 0, 0xB0, 0x01, 0, 0, 0, 0, 153]), "hev1.2.4.H153.B0.1"),
        # a profile space other than 0 is a letter before the profile
        (b"hvc1", bytes([1, 0x41, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 93]), "hvc1.A1.6.L93"),
    ],
)
def test_hevc_codec_strings_are_read_from_the_init_section(entry, record, expected):
    assert hevc_codec_string(init_section(entry, record)) == expected
    with pytest.raises(ValueError):
        hevc_codec_string(init_section(entry, record)[:-4])


def test_a_player_without_hevc_starts_on_a_middle_h264_rung():
    def variant(name: str, codec: str, bps: int) -> Variant:
        return Variant(f"{name}/index.m3u8", 1280, 720, Fraction(30), codec, bps, bps)

    ladder = [
        variant("720p", "avc1.64001F", 3_000_000),
        variant("360p", "avc1.64001E", 900_000),
        variant("720p-hevc", "hvc1.1.6.L93.90", 2_000_000),
        variant("360p-hevc", "hvc1.1.6.L63.90", 600_000),
    ]
    assert (
        parse_master_playlist(write_master(ladder))[0] == "360p/index.m3u8"
    )  # the lower middle of all four would be HEVC


def test_master_playlist_declares_what_apple_requires():
    variants = [
        Variant("360p/index.m3u8", 640, 360, Fraction(30000, 1001), "avc1.64001E,mp4a.40.2", 900_000, 850_000),
        Variant("1080p/index.m3u8", 1920, 1080, Fraction(30000, 1001), "avc1.640028,mp4a.40.2", 5_600_000, 5_100_000),
    ]
    iframes = [
        IFrameVariant("360p/iframes.m3u8", 640, 360, "avc1.64001E", 120_000, 60_000),
        IFrameVariant("1080p/iframes.m3u8", 1920, 1080, "avc1.640028", 900_000, 500_000),
    ]
    text = write_master(variants, iframes)
    parsed = m3u8.loads(text)
    [top_iframes, _] = parsed.iframe_playlists
    assert top_iframes.uri == "1080p/iframes.m3u8"
    assert (top_iframes.iframe_stream_info.bandwidth, top_iframes.iframe_stream_info.codecs) == (900_000, "avc1.640028")
    assert parse_iframe_uris(text) == ["1080p/iframes.m3u8", "360p/iframes.m3u8"]
    assert parsed.is_variant and parsed.is_independent_segments
    first, second = parsed.playlists
    assert first.uri == "360p/index.m3u8" and second.uri == "1080p/index.m3u8"  # of two, the lower starts
    info = second.stream_info
    assert (info.bandwidth, info.average_bandwidth, info.resolution) == (5_600_000, 5_100_000, (1920, 1080))
    assert info.frame_rate == pytest.approx(29.97) and info.codecs == "avc1.640028,mp4a.40.2"
    assert parse_master_playlist(text) == ["360p/index.m3u8", "1080p/index.m3u8"]


def test_each_variant_and_iframe_playlist_says_its_video_range_when_given():
    variants = [
        Variant("720p/index.m3u8", 1280, 720, Fraction(30), "avc1.64001F", 3_000_000, 2_800_000, "SDR"),
        Variant("720p-hevc/index.m3u8", 1280, 720, Fraction(30), "hvc1.2.4.L93.B0", 2_000_000, 1_900_000, "HLG"),
    ]
    iframes = [IFrameVariant("720p-hevc/iframes.m3u8", 1280, 720, "hvc1.2.4.L93.B0", 300_000, 200_000, "HLG")]
    text = write_master(variants, iframes)
    assert 'CODECS="avc1.64001F",VIDEO-RANGE=SDR,' in text and 'CODECS="hvc1.2.4.L93.B0",VIDEO-RANGE=HLG,' in text
    assert (
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=200000,RESOLUTION=1280x720,CODECS="hvc1.2.4.L93.B0",VIDEO-RANGE=HLG,URI='
        in text
    )
    assert "VIDEO-RANGE" not in write_master(
        [replace(v, video_range=None) for v in variants]
    )  # an SDR set says nothing


def test_a_middle_rung_is_listed_first_then_the_rest_from_the_top():
    def variant(height: int, bps: int) -> Variant:
        return Variant(f"{height}p/index.m3u8", height * 16 // 9, height, Fraction(30), "avc1.640028", bps, bps)

    ladder = [variant(360, 880_000), variant(1080, 5_500_000), variant(480, 1_500_000), variant(720, 3_000_000)]
    assert parse_master_playlist(write_master(ladder)) == [
        "480p/index.m3u8",
        "1080p/index.m3u8",
        "720p/index.m3u8",
        "360p/index.m3u8",
    ]
    assert parse_master_playlist(write_master(ladder[1:])) == ["720p/index.m3u8", "1080p/index.m3u8", "480p/index.m3u8"]
    assert parse_master_playlist(write_master(ladder[:1])) == ["360p/index.m3u8"]


def test_audio_and_subtitle_renditions_are_groups_every_variant_names():
    variant = Variant("360p/index.m3u8", 640, 360, Fraction(25), "avc1.64001E,mp4a.40.2", 1_000_000, 900_000)
    renditions = [
        Rendition("AUDIO", "audio_0/index.m3u8", "English", "en", True, channels=2),
        Rendition("AUDIO", "audio_1/index.m3u8", 'Version "française"', "fr", False, channels=2),
        Rendition("SUBTITLES", "subs_0/index.m3u8", "French", "fr", False, forced=True),
    ]
    text = write_master([variant], [], renditions)
    master = m3u8.loads(text)
    assert [
        (m.type, m.group_id, m.language, m.name, m.default, m.autoselect, m.forced, m.channels, m.uri)
        for m in master.media
    ] == [
        ("AUDIO", "audio", "en", "English", "YES", "YES", None, "2", "audio_0/index.m3u8"),
        (
            "AUDIO",
            "audio",
            "fr",
            "Version 'française'",
            "NO",
            "YES",
            None,
            "2",
            "audio_1/index.m3u8",
        ),  # no quote in a quoted string
        ("SUBTITLES", "subs", "fr", "French", "NO", "YES", "YES", None, "subs_0/index.m3u8"),
    ]
    info = master.playlists[0].stream_info
    assert (info.audio, info.subtitles, info.closed_captions) == ("audio", "subs", "NONE")
    assert parse_rendition_uris(text) == ["audio_0/index.m3u8", "audio_1/index.m3u8", "subs_0/index.m3u8"]
    # captions in the video: no claim that there are none
    assert "CLOSED-CAPTIONS" not in write_master([variant], [], renditions, closed_captions=True)
    assert "AUDIO=" not in write_master([variant])


# A studio's track title that, where a player splits lines on U+2028 or U+0085 as hls.js does,
# adds a forced subtitle track of its own (no quotes needed: players take unquoted values).
INJECTING_TITLE = (
    "Director\u2028#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=subs,NAME=x,FORCED=YES,URI=https://evil.example/x.m3u8\u0085"
)


@pytest.mark.parametrize("title", [INJECTING_TITLE, "a\rb\nc\u2029d\x0be\x1cf\u200bg\u00a0h"])
def test_a_track_title_cannot_add_a_line_to_the_master(title):
    variant = Variant("360p/index.m3u8", 640, 360, Fraction(25), "avc1.64001E,mp4a.40.2", 1_000_000, 900_000)
    text = write_master([variant], [], [Rendition("AUDIO", "audio_0/index.m3u8", title, "en", True, channels=2)])
    assert text.splitlines() == text.rstrip("\n").split("\n")  # no line break a player could split on but LF
    assert all(line.isprintable() for line in text.splitlines())
    assert [m.uri for m in m3u8.loads(text).media] == ["audio_0/index.m3u8"]
