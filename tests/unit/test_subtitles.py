import pytest

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.subtitles import (
    MAX_CUE_CHARACTERS,
    Cue,
    check_cues,
    format_timestamp,
    parse_webvtt,
    segment_webvtt,
    subtitle_playlist,
)

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
    [_first, last] = segment_webvtt([Cue(11.0, 20.0, "", "Credits.")], [6.0, 6.0], mpegts_start=0)
    assert parse_webvtt(last) == [Cue(11.0, 20.0, "", "Credits.")]


def test_the_subtitle_playlist_follows_the_video_grid():
    text = subtitle_playlist([6.0, 6.0, 0.1], 6)
    assert "#EXT-X-TARGETDURATION:6" in text and text.count("#EXTINF:") == 3 and text.endswith("#EXT-X-ENDLIST\n")
    assert "#EXTINF:0.100000,\nsub_00002.vtt" in text


def test_a_track_whose_segments_would_fill_a_disk_is_refused_before_any_is_written():
    """A cue is copied into every segment it overlaps: half a megabyte of text across a movie of a
    thousand segments would be half a gigabyte."""
    durations = [6.0] * 1000
    fine = [Cue(0.0, 3.0, "", "Hello."), Cue(10.0, 6000.0, "", "x" * MAX_CUE_CHARACTERS)]
    assert check_cues(fine, durations, 133_200, "track 1") == sum(
        len(text.encode()) for text in segment_webvtt(fine, durations, 133_200)
    )
    with pytest.raises(MigrationError) as caught:
        check_cues([Cue(0.0, 6000.0, "", "x" * 500_000)], durations, 0, "subtitle track 2")
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "500000 characters" in caught.value.message
    many = [Cue(0.0, 6000.0, "", "y" * MAX_CUE_CHARACTERS) for _ in range(40)]  # each within the cap, together not
    with pytest.raises(MigrationError, match="MB of WebVTT"):
        check_cues(many, durations, 0, "subtitle track 3")


def test_segments_are_made_one_at_a_time():
    files = segment_webvtt([Cue(0.5, 2.0, "", "a")], [6.0, 6.0], 0)
    assert next(files).endswith("00:00:00.500 --> 00:00:02.000\na\n") and next(files).count("-->") == 0
