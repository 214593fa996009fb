import pytest
from hls_operators.core.subtitles import Cue, format_timestamp, parse_webvtt, segment_webvtt, subtitle_playlist

WHOLE = """WEBVTT

1
00:00:00.500 --> 00:00:02.000
Hello, world.

NOTE a comment block, dropped

00:05.000 --> 00:07.500 align:start line:90%
Across a segment boundary,
on two lines.

01:00:01.250 --> 01:00:02.000
An hour in.
"""


def test_cues_are_read_with_their_settings_and_lines():
    assert parse_webvtt(WHOLE) == [
        Cue(0.5, 2.0, "", "Hello, world."),
        Cue(5.0, 7.5, "align:start line:90%", "Across a segment boundary,\non two lines."),
        Cue(3601.25, 3602.0, "", "An hour in."),
    ]
    with pytest.raises(ValueError):
        parse_webvtt("1\n00:00:00.500 --> 00:00:02.000\nno header\n")
    assert format_timestamp(3601.25) == "01:00:01.250"


def test_each_segment_holds_the_cues_that_show_during_it_tied_to_the_video_timestamps():
    cues = parse_webvtt(WHOLE)[:2]
    first, second, third = segment_webvtt(cues, [6.0, 6.0, 0.1], mpegts_start=133_200)
    header = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:133200,LOCAL:00:00:00.000\n"
    assert first.startswith(header) and second.startswith(header) and third == header
    assert [c.text for c in parse_webvtt(first)] == ["Hello, world.", "Across a segment boundary,\non two lines."]
    assert parse_webvtt(second) == [cues[1]]  # across 6 s: in both segments, times unchanged
    # a cue past the last segment's end (a source whose subtitles outlast the video) still shows
    [last] = segment_webvtt([Cue(11.0, 20.0, "", "Credits.")], [6.0, 6.0], mpegts_start=0)[1:]
    assert parse_webvtt(last) == [Cue(11.0, 20.0, "", "Credits.")]


def test_the_subtitle_playlist_follows_the_video_grid():
    text = subtitle_playlist([6.0, 6.0, 0.1], 6)
    assert "#EXT-X-TARGETDURATION:6" in text and text.count("#EXTINF:") == 3 and text.endswith("#EXT-X-ENDLIST\n")
    assert "#EXTINF:0.100000,\nsub_00002.vtt" in text
