import m3u8
import pytest

from hls_operators.core.trickplay import (
    IFrame,
    StoryboardPlan,
    VideoPacket,
    iframe_bandwidth,
    locate_iframes,
    moof_offset,
    parse_iframe_playlist,
    parse_storyboard_vtt,
    storyboard_cues,
    write_iframe_playlist,
    write_storyboard_vtt,
)

# Two 6 s segments of 1000 and 900 bytes read back to back; a keyframe every 2 s, B-frames
# reordered (positions follow decode order, times do not), timestamps offset as in MPEG-TS.
PACKETS = [
    VideoPacket(1.4, 564, True),
    VideoPacket(1.6, 700, False),
    VideoPacket(1.5, 760, False),
    VideoPacket(3.4, 800, True),
    VideoPacket(3.5, 900, False),
    VideoPacket(5.4, 950, True),
    VideoPacket(7.4, 1564, True),
    VideoPacket(7.5, 1700, False),
    VideoPacket(9.4, 1800, True),
]
SEGMENTS = [("seg_00000.ts", 1000), ("seg_00001.ts", 900)]


def test_each_keyframe_is_a_byte_range_of_its_own_segment_until_the_next_video_packet():
    frames = locate_iframes(PACKETS, SEGMENTS, total_duration=9.0)
    assert frames == [
        IFrame("seg_00000.ts", 564, 136, 2.0),
        IFrame("seg_00000.ts", 800, 100, 2.0),
        IFrame("seg_00000.ts", 950, 50, 2.0),  # the last video packet of a segment runs to its end
        IFrame("seg_00001.ts", 564, 136, 2.0),
        IFrame("seg_00001.ts", 800, 100, 1.0),  # the last keyframe stands until the movie ends
    ]
    assert sum(f.duration for f in frames) == 9.0


def test_in_fmp4_each_segments_first_keyframe_is_listed_from_its_fragments_moof():
    segments = [("seg_00000.m4s", 1000), ("seg_00001.m4s", 900)]
    frames = locate_iframes(
        PACKETS, segments, total_duration=9.0, fragment_starts={"seg_00000.m4s": 76, "seg_00001.m4s": 76}
    )
    # moof at 76, the keyframe's sample up to the next packet at 700 (and at 1700 - 1000)
    assert frames == [IFrame("seg_00000.m4s", 76, 624, 6.0), IFrame("seg_00001.m4s", 76, 624, 3.0)]
    text = write_iframe_playlist(frames, map_uri="init_0.mp4")
    parsed = m3u8.loads(text)
    assert parsed.version == 5 and parsed.segment_map[0].uri == "init_0.mp4" and parse_iframe_playlist(text) == frames


def test_the_moof_is_found_after_the_boxes_before_it():
    box = lambda kind, size: size.to_bytes(4, "big") + kind + bytes(size - 8)  # noqa: E731
    assert moof_offset(box(b"styp", 24) + box(b"sidx", 52) + box(b"moof", 1540)[:100]) == 76
    large = (1).to_bytes(4, "big") + b"free" + (32).to_bytes(8, "big") + bytes(16)
    assert moof_offset(large + box(b"moof", 16)) == 32
    with pytest.raises(ValueError):
        moof_offset(box(b"styp", 24) + box(b"mdat", 30))


def test_iframe_playlist_round_trips_and_is_read_by_m3u8():
    frames = locate_iframes(PACKETS, SEGMENTS, total_duration=9.0)
    text = write_iframe_playlist(frames)
    assert parse_iframe_playlist(text) == frames
    parsed = m3u8.loads(text)
    assert parsed.is_i_frames_only and parsed.version == 4 and parsed.is_endlist
    assert [(s.byterange, s.uri) for s in parsed.segments][:2] == [
        ("136@564", "seg_00000.ts"),
        ("100@800", "seg_00000.ts"),
    ]
    # peak over entries lasting 1 to 3 s (half to 1.5 times the 2 s target): 100 B in the last 1 s;
    # average: 522 B in 9 s
    assert iframe_bandwidth(frames, 2) == (800, 464)
    assert iframe_bandwidth(frames, 4)[0] == 630  # 236 B in the last 3 s: the last 1 s alone is too short now


def test_storyboard_tiles_keep_the_shape_and_cues_cover_the_movie():
    plan = StoryboardPlan.for_source(1920, 1080, interval=5, tile_width=160)
    assert (plan.tile_width, plan.tile_height) == (160, 90)
    assert StoryboardPlan.for_source(120, 90, interval=5, tile_width=160).tile_width == 120  # never upscaled
    cues = storyboard_cues(plan, tiles=103, duration=512.3)
    assert (cues[0].start, cues[0].end, cues[-1].end) == (0, 5, 512.3)
    assert (cues[99].sheet, cues[99].x, cues[99].y) == ("sheet_000.jpg", 1440, 810)
    assert (cues[100].sheet, cues[100].x, cues[100].y) == ("sheet_001.jpg", 0, 0)
    assert plan.sheet_grid(3) == (3, 1) and plan.sheet_grid(100) == (10, 10) and plan.sheet_grid(23) == (10, 3)
    text = write_storyboard_vtt(cues)
    assert "00:08:30.000 --> 00:08:32.300\nsheet_001.jpg#xywh=320,0,160,90" in text
    assert parse_storyboard_vtt(text) == cues
