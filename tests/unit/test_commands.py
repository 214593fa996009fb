from pathlib import Path

import pytest

from hls_operators.commands import (
    EncodingOptions,
    contact_sheet_args,
    keyframe_index_args,
    probe_args,
    thumbnail_args,
    thumbnail_size,
    thumbnail_times,
    transcode_args,
)
from hls_operators.ladder import Rung, parse_ladder, plan_ladder
from hls_operators.probe import ProbeResult
from hls_operators.trickplay import StoryboardPlan


def make_probe(**overrides) -> ProbeResult:
    values = dict(
        format_name="mov,mp4", duration=60.0, size_bytes=1, video_index=1, video_codec="h264", width=1920,
        height=1080, rotation=0, pix_fmt="yuv420p", frame_rate="30", variable_frame_rate=False, interlaced=False,
        video_kbps=4000, audio_index=0, audio_codec="aac", audio_channels=6,
    )  # fmt: skip
    values.update(overrides)
    return ProbeResult(**values)


def option_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def transcode(probe=None, options=EncodingOptions()):
    probe = probe or make_probe()
    rungs = plan_ladder(probe.width, probe.height, parse_ladder("1080:5000,720:2800,480:1400,360:800"))
    return transcode_args(Path("/in/source.mp4"), Path("/out"), probe, rungs, options)


def test_one_process_decodes_once_and_splits_into_every_rung():
    args = transcode()
    assert args[0] == "ffmpeg" and args.count("-i") == 1
    [graph] = option_values(args, "-filter_complex")
    assert graph.startswith("[0:1]fps=30,split=4[s0][s1][s2][s3];")
    assert "[s3]scale=640:360" in graph and graph.count("format=yuv420p") == 4


def test_every_rung_has_aligned_keyframes_and_segments():
    args = transcode(options=EncodingOptions(segment_seconds=6, keyframe_seconds=2))
    assert option_values(args, "-force_key_frames") == ["expr:gte(t,n_forced*2)"] * 4
    assert option_values(args, "-sc_threshold") == ["0"] * 4
    assert option_values(args, "-g") == ["60"] * 4
    assert option_values(args, "-hls_time") == ["6"] * 4
    assert option_values(args, "-hls_segment_filename")[0] == "/out/1080p/seg_%05d.ts"
    assert args[-1] == "/out/360p/index.m3u8"


def test_audio_is_mapped_by_index_and_downmixed_to_stereo_aac_lc():
    args = transcode()
    assert option_values(args, "-map")[:2] == ["[v0]", "0:0"]
    assert option_values(args, "-ac") == ["2"] * 4
    assert option_values(args, "-profile:a") == ["aac_low"] * 4


def test_a_silent_source_gets_no_audio_track():
    args = transcode(make_probe(audio_index=None, audio_codec=None))
    assert "-c:a" not in args and option_values(args, "-map") == ["[v0]", "[v1]", "[v2]", "[v3]"]


def test_bitrates_follow_the_ladder():
    args = transcode()
    assert option_values(args, "-b:v") == ["5000k", "2800k", "1400k", "800k"]
    assert option_values(args, "-maxrate")[0] == "5500k"


def test_interlaced_sources_are_deinterlaced_before_the_split():
    [graph] = option_values(transcode(make_probe(interlaced=True)), "-filter_complex")
    assert graph.startswith("[0:1]yadif=mode=send_frame,fps=30,split=4")


def test_inputs_are_pinned_to_mp4_and_local_files():
    for args in (probe_args(Path("/in/x.mp4")), transcode()):
        assert option_values(args, "-protocol_whitelist") == ["file"]
        assert option_values(args, "-format_whitelist") == ["mov,mp4,m4a,3gp,3g2,mj2"]
        assert args.index("-format_whitelist") < args.index(args[-1] if args[0] == "ffprobe" else "-i")


def test_thumbnails_are_evenly_spaced_and_small():
    assert thumbnail_times(100.0, 4, 25.0) == [12.5, 37.5, 62.5, 87.5]
    assert max(thumbnail_times(0.2, 10, 25.0)) == pytest.approx(0.12)  # a 0.2 s clip: not past its last frame
    assert thumbnail_size(make_probe(), 640) == (640, 360)
    assert thumbnail_size(make_probe(width=320, height=240), 640) == (320, 240)
    assert thumbnail_size(make_probe(width=1080, height=1920), 640) == (640, 1138)
    args = thumbnail_args(Path("/s.mp4"), Path("/t/thumb_000.jpg"), make_probe(), 12.5, (640, 360))
    assert args.index("-ss") < args.index("-i") and option_values(args, "-frames:v") == ["1"]


def test_contact_sheet_tiles_all_thumbnails():
    args = contact_sheet_args(Path("/t"), 10, Path("/t/contact_sheet.jpg"))
    assert "tile=5x2" in option_values(args, "-vf")[0]


def test_the_storyboard_shares_the_transcode_decode():
    probe = make_probe()
    rungs = plan_ladder(1920, 1080, parse_ladder("1080:5000,360:800"))
    plan = StoryboardPlan(5, 160, 90)
    args = transcode_args(Path("/in/s.mp4"), Path("/out"), probe, rungs, EncodingOptions(), plan, Path("/tiles"))
    assert args.count("-i") == 1
    [graph] = option_values(args, "-filter_complex")
    assert "split=3[s0][s1][s2]" in graph
    assert "[s2]setpts=PTS-STARTPTS,select='gte(t,selected_n*5)',scale=160:90" in graph
    assert option_values(args, "-map")[-1] == "[tiles]" and args[-1] == "/tiles/tile_%05d.jpg"
    assert option_values(args, "-fps_mode") == ["passthrough"]


def test_keyframes_are_indexed_from_the_segments_read_back_to_back():
    args = keyframe_index_args(["seg_00000.ts", "seg_00001.ts"])
    assert "concat:seg_00000.ts|seg_00001.ts" in args
    assert option_values(args, "-protocol_whitelist") == ["file,concat"]


def test_a_copied_rung_maps_the_source_stream_and_is_not_encoded():
    probe = make_probe()
    rungs = plan_ladder(1920, 1080, parse_ladder("1080:5000,360:800"))
    rungs[0] = Rung("1080p", 1920, 1080, 5000, source_copy=True)
    args = transcode_args(Path("/in/s.mp4"), Path("/out"), probe, rungs, EncodingOptions())
    [graph] = option_values(args, "-filter_complex")
    assert "split=1[s0]" in graph and "scale=1920:1080" not in graph
    assert option_values(args, "-map")[:3] == ["0:1", "0:0", "[v0]"]
    assert option_values(args, "-c:v") == ["copy", "libx264"]
    assert option_values(args, "-hls_segment_filename") == ["/out/1080p/seg_%05d.ts", "/out/360p/seg_%05d.ts"]
