from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from hls_operators.core.chunks import Chunk
from hls_operators.core.commands import TONE_MAP_TO_SDR, EncodingOptions, audio_args, encode_chunk_args
from hls_operators.core.image_commands import (
    contact_sheet_args,
    storyboard_sheet_args,
    thumbnail_args,
    thumbnail_size,
    thumbnail_times,
)
from hls_operators.core.ladder import Rung, parse_ladder, plan_ladder, with_hevc_rungs
from hls_operators.core.package_commands import concat_list, stitch_args, subtitle_args
from hls_operators.core.probe import MediaTrack
from hls_operators.core.probe_commands import keyframe_index_args, probe_args
from hls_operators.core.trickplay import StoryboardPlan
from tests.probes import make_probe


def option_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


WHOLE = Chunk(0, 0, None)
FRENCH = MediaTrack(2, "aac", "fra", "Version française", False)
# The tests' own encoder choices: no extra x264 options, so that a test can tell when they are passed.
OPTIONS = EncodingOptions(
    segment_seconds=6, keyframe_seconds=2, x264_preset="faster", x264_params="", x265_preset="slow", audio_kbps=128
)


def encode(probe=None, options=OPTIONS, chunk=WHOLE, ladder="1080:5000,720:2800,480:1400,360:800", storyboard=None):
    probe = probe or make_probe()
    rungs = plan_ladder(probe.width, probe.height, parse_ladder(ladder))
    return encode_chunk_args(
        Path("/in/source.mp4"), Path("/out"), probe, rungs, options, chunk, storyboard, Path("/tiles")
    )


def test_one_process_decodes_once_and_scales_each_rung_from_the_one_above():
    args = encode()
    assert args[0] == "ffmpeg" and args.count("-i") == 1
    [graph] = option_values(args, "-filter_complex")
    assert graph.split(";") == [
        "[0:1]fps=30:start_time=0,trim=start_pts=0[frames]",
        "[frames]setpts=PTS-STARTPTS,scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p,split=2[v0][below0]",
        "[below0]scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=2[v1][below1]",
        "[below1]scale=854:480:flags=bicubic,setsar=1,format=yuv420p,split=2[v2][below2]",
        "[below2]scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v3]",
    ]
    assert option_values(args, "-map") == ["[v0]", "[v1]", "[v2]", "[v3]"]
    assert args[-1] == "/out/360p/video.mp4"


def test_every_rung_has_aligned_keyframes_and_is_video_only():
    args = encode(options=replace(OPTIONS, x264_params="subme=3"))
    assert option_values(args, "-x264-params") == ["subme=3"] * 4 and "-x264-params" not in encode()
    # frame n (from the movie's start) is a keyframe once it reaches frame ceil(k * 2 s * 30 fps)
    assert option_values(args, "-force_key_frames") == ["expr:gte(n+0,ceil((n_forced+0)*60/1))"] * 4
    assert option_values(args, "-sc_threshold") == ["0"] * 4
    assert option_values(args, "-g") == ["60"] * 4
    assert args.count("-an") == 4 and "-c:a" not in args
    assert args[-1] == "/out/360p/video.mp4"


def test_hevc_twins_share_their_size_s_frames_and_are_closed_gop_idr_hvc1_in_main_profile():
    probe = make_probe(width=1280, height=720)
    ladder = with_hevc_rungs(
        [Rung("720p", 1280, 720, 2800, source_copy=True), *plan_ladder(1280, 720, parse_ladder("720:2800,360:800"))[1:]]
    )
    encoded = [rung for rung in ladder if not rung.source_copy]
    args = encode_chunk_args(Path("/in/s.mp4"), Path("/out"), probe, encoded, OPTIONS, WHOLE)
    [graph] = option_values(args, "-filter_complex")
    # one scale per size, largest first, whichever codec's rung comes first in the ladder
    assert graph.split(";")[1:] == [
        "[frames]setpts=PTS-STARTPTS,scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=2[v1][below0]",
        "[below0]scale=640:360:flags=bicubic,setsar=1,format=yuv420p,split=2[v0][v2]",
    ]
    assert option_values(args, "-map") == ["[v0]", "[v1]", "[v2]"]
    assert option_values(args, "-c:v") == ["libx264", "libx265", "libx265"]
    assert option_values(args, "-x265-params") == ["log-level=error:scenecut=0:open-gop=0"] * 2
    assert option_values(args, "-forced-idr") == ["1"] * 2 and option_values(args, "-tag:v") == ["hvc1"] * 2
    assert option_values(args, "-profile:v") == ["high", "main", "main"] and option_values(args, "-preset") == [
        "faster",
        "slow",
        "slow",
    ]
    assert option_values(args, "-b:v") == ["800k", "2100k", "600k"] and option_values(args, "-maxrate") == [
        "880k",
        "2310k",
        "660k",
    ]
    assert option_values(args, "-force_key_frames") == ["expr:gte(n+0,ceil((n_forced+0)*60/1))"] * 3
    assert option_values(args, "-g") == ["60"] * 3 and option_values(args, "-sc_threshold") == ["0"]  # x264's only
    quality = encode_chunk_args(Path("/in/s.mp4"), Path("/out"), probe, encoded, replace(OPTIONS, crf=17), WHOLE)
    assert option_values(quality, "-crf") == ["17", "22", "22"]  # on x265's scale, the same picture
    stitched = stitch_args(
        Path("/out"),
        probe,
        ladder,
        OPTIONS,
        concat_lists={r.name: Path(f"/c/{r.name}") for r in encoded},
        source=Path("/in/s.mp4"),
        audios=[],
    )
    assert option_values(stitched, "-tag:v:2") == ["hvc1"] and option_values(stitched, "-tag:v:3") == ["hvc1"]
    assert "-tag:v:0" not in stitched and "-tag:v:1" not in stitched


@pytest.mark.parametrize(("transfer", "x265_params"), [("arib-std-b67", ""), ("smpte2084", ":hdr10-opt=1")])
def test_hevc_rungs_of_an_hdr_source_keep_its_range_in_main10_and_the_h264_ones_are_tone_mapped(transfer, x265_params):
    probe = make_probe(width=1280, height=720, color_transfer=transfer, color_primaries="bt2020", pix_fmt="yuv420p10le")
    ladder = with_hevc_rungs(plan_ladder(1280, 720, parse_ladder("720:2800,360:800")))
    storyboard = StoryboardPlan(interval=5, tile_width=160, tile_height=90)
    args = encode_chunk_args(Path("/in/s.mp4"), Path("/out"), probe, ladder, OPTIONS, WHOLE, storyboard, Path("/tiles"))
    [graph] = option_values(args, "-filter_complex")
    chains = graph.split(";")
    # decoded once; split before the tone mapping, which only the H.264 rungs and the storyboard take
    assert chains[:2] == [
        "[0:1]fps=30:start_time=0,trim=start_pts=0,split=2[hdr][sdr]",
        f"[sdr]{TONE_MAP_TO_SDR},split=2[frames][storyboard]",
    ]
    assert chains[2:6] == [
        "[frames]setpts=PTS-STARTPTS,scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=2[v0][below0]",
        "[below0]scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v1]",
        "[hdr]setpts=PTS-STARTPTS,scale=1280:720:flags=bicubic,setsar=1,format=yuv420p10le,split=2[v2][hdr_below0]",
        "[hdr_below0]scale=640:360:flags=bicubic,setsar=1,format=yuv420p10le[v3]",
    ]
    assert graph.count("tonemap=hable") == 1 and chains[6].startswith("[storyboard]select=")
    assert option_values(args, "-profile:v") == ["high", "high", "main10", "main10"]
    assert option_values(args, "-x265-params") == [f"log-level=error:scenecut=0:open-gop=0{x265_params}"] * 2
    assert option_values(args, "-color_trc") == ["bt709", "bt709", transfer, transfer]
    assert option_values(args, "-color_primaries") == ["bt709", "bt709", "bt2020", "bt2020"]
    assert option_values(args, "-colorspace") == [
        "bt709",
        "bt709",
        "bt2020nc",
        "bt2020nc",
    ]  # unsaid in the source: BT.2020's
    assert option_values(args, "-color_range") == ["tv", "tv"]
    # an HDR10 source's static metadata goes into the HEVC rungs' SEI
    hdr10 = replace(
        probe, color_transfer="smpte2084", master_display="G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10)", max_cll="1000,400"
    )
    assert (
        option_values(encode_chunk_args(Path("/in/s.mp4"), Path("/out"), hdr10, ladder, OPTIONS, WHOLE), "-x265-params")
        == [
            "log-level=error:scenecut=0:open-gop=0:hdr10-opt=1:hdr10=1:master-display=G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10):max-cll=1000,400"
        ]
        * 2
    )
    # without HEVC rungs, nothing keeps HDR: one chain tone-maps everything, as before
    h264_only = encode_chunk_args(Path("/in/s.mp4"), Path("/out"), probe, ladder[:2], OPTIONS, WHOLE)
    assert "[hdr]" not in option_values(h264_only, "-filter_complex")[0] and "-color_range" not in h264_only


def test_a_later_chunk_seeks_before_its_first_frame_and_keeps_the_movies_timestamps():
    probe = make_probe(frame_rate="30000/1001")
    args = encode(probe, chunk=Chunk(1, 300, 600))
    assert args[args.index("-ss") + 1] == "298" and args.index("-ss") < args.index("-i")
    assert "-copyts" in args and "-start_at_zero" in args
    [graph] = option_values(args, "-filter_complex")
    # frames ceil(300 * 29.97) = 8992 up to ceil(600 * 29.97) = 17983, exclusive; no padding to 0 s
    assert graph.startswith("[0:1]fps=30000/1001,trim=start_pts=8992:end_pts=17983[frames]")
    assert "-ss" not in encode(probe, chunk=Chunk(0, 0, 300))
    # keyframes counted from the movie's frame 8992, the 150th boundary of 2 s (60000/1001 frames each)
    assert option_values(args, "-force_key_frames")[0] == "expr:gte(n+8992,ceil((n_forced+150)*60000/1001))"


def test_audio_longer_than_the_video_holds_the_last_frame_in_the_last_chunk_only():
    probe = make_probe(duration=60.0, video_end=52.0)  # 8 s of audio after the last frame
    [graph] = option_values(encode(probe, chunk=Chunk(1, 30, None)), "-filter_complex")
    assert graph.startswith("[0:1]fps=30,trim=start_pts=900,tpad=stop_mode=clone:stop_duration=8.000[frames]")
    [graph] = option_values(encode(probe, chunk=Chunk(0, 0, 30)), "-filter_complex")
    assert "tpad" not in graph
    [graph] = option_values(encode(make_probe(duration=60.0, video_end=59.7)), "-filter_complex")
    assert "tpad" not in graph  # a short tail of encoder padding is left as it is


def test_bitrates_follow_the_ladder():
    args = encode()
    assert option_values(args, "-b:v") == ["5000k", "2800k", "1400k", "800k"]
    assert option_values(args, "-maxrate")[0] == "5500k"


def test_quality_mode_encodes_each_rung_at_constant_quality_limited_to_its_bitrate_with_one_second_of_buffer():
    args = encode(options=replace(OPTIONS, crf=19))
    assert option_values(args, "-crf") == ["19"] * 4 and "-b:v" not in args
    assert option_values(args, "-maxrate") == ["5000k", "2800k", "1400k", "800k"]
    assert option_values(args, "-bufsize") == ["5000k", "2800k", "1400k", "800k"]
    # an average bitrate keeps its cap at 1.1 times the rung's with 2 s of buffer
    assert option_values(encode(), "-maxrate")[0] == "5500k" and option_values(encode(), "-bufsize")[0] == "10000k"


def test_interlaced_sources_are_deinterlaced_before_the_split():
    [graph] = option_values(encode(make_probe(interlaced=True)), "-filter_complex")
    assert graph.startswith("[0:1]yadif=mode=send_field,fps=30:start_time=0,trim=start_pts=0[frames]")


def test_inputs_are_pinned_to_mp4_and_local_files():
    tracks = (
        audio_args(Path("/in/x.mp4"), FRENCH, OPTIONS, Path("/a.m4a"), 60.0),
        subtitle_args(Path("/in/x.mp4"), FRENCH, Path("/s.vtt")),
    )
    for args in (probe_args(Path("/in/x.mp4")), encode(), *tracks):
        assert option_values(args, "-protocol_whitelist") == ["file"]
        assert option_values(args, "-format_whitelist") == ["mov,mp4,m4a,3gp,3g2,mj2"]
        assert args.index("-format_whitelist") < args.index(args[-1] if args[0] == "ffprobe" else "-i")


def test_audio_is_encoded_once_from_0_s_as_stereo_aac_lc():
    args = audio_args(
        Path("/in/s.mp4"),
        MediaTrack(0, "ac3", "eng", None, True, channels=6),
        replace(OPTIONS, audio_kbps=96),
        Path("/w/audio.m4a"),
        60.0,
    )
    assert option_values(args, "-map") == ["0:0"] and "-vn" in args
    assert "first_pts=0" in option_values(args, "-af")[0]
    assert option_values(args, "-ac") == ["2"] and option_values(args, "-profile:a") == ["aac_low"]
    assert option_values(args, "-b:a") == ["96k"] and args[-1] == "/w/audio.m4a"


def test_the_stitch_only_copies_chunks_into_each_rung_and_each_audio_track_into_its_rendition():
    probe = make_probe()
    rungs = plan_ladder(1920, 1080, parse_ladder("1080:5000,360:800"))
    lists = {r.name: Path(f"/w/chunks/{r.name}.ffconcat") for r in rungs}
    args = stitch_args(
        Path("/out"),
        probe,
        rungs,
        OPTIONS,
        concat_lists=lists,
        source=None,
        audios=[Path("/w/audio_0.m4a"), Path("/w/audio_1.m4a")],
    )
    assert option_values(args, "-i") == [
        "/w/chunks/1080p.ffconcat",
        "/w/chunks/360p.ffconcat",
        "/w/audio_0.m4a",
        "/w/audio_1.m4a",
    ]
    assert option_values(args, "-f")[:2] == ["concat", "concat"]
    assert option_values(args, "-map") == ["0:v:0", "1:v:0", "2:a:0", "3:a:0"]  # video-only rungs, then each track
    assert option_values(args, "-c") == ["copy"] and "libx264" not in args and "aac" not in args
    assert option_values(args, "-hls_time") == ["6"]
    # one output, so that every rendition shares one timeline: each stream into its own folder
    assert option_values(args, "-var_stream_map") == ["v:0,name:1080p v:1,name:360p a:0,name:audio_0 a:1,name:audio_1"]
    assert option_values(args, "-hls_segment_filename") == ["/out/%v/seg_%05d.m4s"] and args[-1] == "/out/%v/index.m3u8"
    # fMP4 by default: each rendition's segments after its own init section
    assert option_values(args, "-hls_segment_type") == ["fmp4"] and option_values(args, "-hls_fmp4_init_filename") == [
        "init.mp4"
    ]
    ts = stitch_args(
        Path("/out"), probe, rungs, replace(OPTIONS, segment_format="ts"), concat_lists=lists, source=None, audios=[]
    )
    assert option_values(ts, "-hls_segment_type") == ["mpegts"] and "-hls_fmp4_init_filename" not in ts
    assert option_values(ts, "-hls_segment_filename") == ["/out/%v/seg_%05d.ts"]


def test_a_silent_source_gets_no_audio_rendition():
    probe = make_probe(audio_index=None, audio_codec=None)
    rungs = plan_ladder(1920, 1080, parse_ladder("1080:5000,360:800"))
    lists = {r.name: Path(f"/w/{r.name}.ffconcat") for r in rungs}
    args = stitch_args(Path("/out"), probe, rungs, OPTIONS, concat_lists=lists, source=None, audios=[])
    assert option_values(args, "-map") == ["0:v:0", "1:v:0"]


def test_a_text_subtitle_track_is_read_as_webvtt():
    args = subtitle_args(Path("/in/s.mp4"), MediaTrack(3, "mov_text", "fra", None, False), Path("/w/subs_0.vtt"))
    assert (
        option_values(args, "-map") == ["0:3"]
        and option_values(args, "-c:s") == ["webvtt"]
        and args[-1] == "/w/subs_0.vtt"
    )


def test_chunks_are_listed_in_order_by_relative_name():
    listing = concat_list([("0/360p/video.mp4", Fraction(539 * 1001, 30000)), ("1/360p/video.mp4", None)])
    assert listing == "ffconcat version 1.0\nfile 0/360p/video.mp4\nduration 17.984633\nfile 1/360p/video.mp4\n"


def test_thumbnails_are_evenly_spaced_and_small():
    assert thumbnail_times(100.0, 4, 25.0) == [12.5, 37.5, 62.5, 87.5]
    assert max(thumbnail_times(0.2, 10, 25.0)) == pytest.approx(0.12)  # a 0.2 s clip: not past its last frame
    assert max(thumbnail_times(100.0, 4, 25.0, video_end=50.0)) == pytest.approx(49.92)  # nor the video's
    assert thumbnail_size(make_probe(), 640) == (640, 360)
    assert thumbnail_size(make_probe(width=320, height=240), 640) == (320, 240)
    assert thumbnail_size(make_probe(width=1080, height=1920), 640) == (640, 1138)
    args = thumbnail_args(Path("/s.mp4"), Path("/t/thumb_000.jpg"), make_probe(), 12.5, (640, 360))
    assert args.index("-ss") < args.index("-i") and option_values(args, "-frames:v") == ["1"]


def test_contact_sheet_tiles_all_thumbnails():
    args = contact_sheet_args(Path("/t"), 10, Path("/t/contact_sheet.jpg"))
    assert "tile=5x2" in option_values(args, "-vf")[0]


def test_storyboard_sheets_take_the_tiles_in_turn_and_the_last_is_shorter():
    plan = StoryboardPlan(5, 160, 90)
    first, last = (storyboard_sheet_args(plan, sheet, 123, Path("/tiles"), Path("/sb")) for sheet in (0, 1))
    assert option_values(first, "-start_number") == ["0"] and "tile=10x10" in option_values(first, "-vf")[0]
    assert option_values(last, "-start_number") == ["100"] and "tile=10x3" in option_values(last, "-vf")[0]
    assert last[-1] == "/sb/sheet_001.jpg"


def test_the_storyboard_shares_the_chunks_decode_with_tiles_numbered_for_the_movie():
    plan = StoryboardPlan(5, 160, 90)
    args = encode(ladder="1080:5000,360:800", storyboard=plan)
    assert args.count("-i") == 1
    [graph] = option_values(args, "-filter_complex")
    assert graph.startswith("[0:1]fps=30:start_time=0,trim=start_pts=0,split=2[frames][storyboard];")
    # tile k is frame ceil(k * 5 s * 30 fps)
    assert "[storyboard]select='gte(pts,ceil((0+selected_n)*150/1))',scale=160:90" in graph
    assert option_values(args, "-map")[-1] == "[tiles]" and args[-1] == "/tiles/tile_%05d.jpg"
    assert option_values(args, "-fps_mode") == ["passthrough"] and option_values(args, "-start_number") == ["0"]
    later = encode(make_probe(frame_rate="30000/1001"), chunk=Chunk(1, 300, None), ladder="1080:5000", storyboard=plan)
    # frame 8992 is the chunk's first, and tile 60 is frame ceil(60 * 5 * 30000 / 1001) = ceil(8991.008) = 8992
    assert "select='gte(pts,ceil((60+selected_n)*150000/1001))'" in option_values(later, "-filter_complex")[0]
    assert option_values(later, "-start_number") == ["60"]


def test_keyframes_are_indexed_from_the_segments_read_back_to_back():
    args = keyframe_index_args(["seg_00000.ts", "seg_00001.ts"])
    assert "concat:seg_00000.ts|seg_00001.ts" in args
    assert option_values(args, "-protocol_whitelist") == ["file,concat"]
    # fMP4 segments are read after their init section, without which they cannot be read
    assert "concat:init_0.mp4|seg_00000.m4s" in keyframe_index_args(["seg_00000.m4s"], "init_0.mp4")


def test_a_copied_rung_takes_the_source_video_in_the_stitch_and_is_not_encoded():
    probe = make_probe()
    rungs = plan_ladder(1920, 1080, parse_ladder("1080:5000,360:800"))
    rungs[0] = Rung("1080p", 1920, 1080, 5000, source_copy=True)
    encoded = encode_chunk_args(Path("/in/s.mp4"), Path("/out"), probe, rungs[1:], OPTIONS, WHOLE)
    assert "scale=1920:1080" not in option_values(encoded, "-filter_complex")[0]
    lists = {"360p": Path("/w/360p.ffconcat")}
    args = stitch_args(
        Path("/out"), probe, rungs, OPTIONS, concat_lists=lists, source=Path("/in/s.mp4"), audios=[Path("/a.m4a")]
    )
    assert option_values(args, "-i") == ["/w/360p.ffconcat", "/in/s.mp4", "/a.m4a"]
    assert option_values(args, "-map") == ["1:1", "0:v:0", "2:a:0"]
    assert option_values(args, "-var_stream_map") == ["v:0,name:1080p v:1,name:360p a:0,name:audio_0"]


def test_hdr_is_tone_mapped_once_before_the_split_and_tagged_bt709():
    hdr = make_probe(color_transfer="arib-std-b67", pix_fmt="yuv420p10le")
    args = encode(hdr)
    [graph] = option_values(args, "-filter_complex")
    first = graph.split(";")[0]
    assert first.endswith(f"trim=start_pts=0,{TONE_MAP_TO_SDR}[frames]") and graph.count("tonemap=hable") == 1
    assert option_values(args, "-color_trc") == ["bt709"] * 4 and option_values(args, "-colorspace") == ["bt709"] * 4
    assert "tonemap" in option_values(thumbnail_args(Path("/in/s.mp4"), Path("/t.jpg"), hdr, 5.0, (640, 360)), "-vf")[0]
    sdr = encode()
    assert "tonemap" not in option_values(sdr, "-filter_complex")[0] and "-color_trc" not in sdr
