import pytest

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.probe import ProbeResult, parse_compact_line, parse_hdr10_metadata, parse_probe
from hls_operators.core.refusals import check_limits, classify_probe_failure, looks_like_iso_bmff


def video_stream(**overrides):
    stream = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1920,
        "height": 1080,
        "pix_fmt": "yuv420p",
        "avg_frame_rate": "30/1",
        "r_frame_rate": "30/1",
        "bit_rate": "4000000",
        "field_order": "progressive",
        "disposition": {"default": 1},
    }
    stream.update(overrides)
    return stream


def audio_stream(index, default=0, channels=2):
    return {
        "index": index,
        "codec_type": "audio",
        "codec_name": "aac",
        "channels": channels,
        "disposition": {"default": default},
    }


def report(*streams, duration="60.0"):
    return {"streams": list(streams), "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": duration}}


def test_summary_of_a_plain_movie():
    probe = parse_probe(report(video_stream(), audio_stream(1, default=1)), file_size=123)
    assert (probe.width, probe.height, probe.frame_rate, probe.duration) == (1920, 1080, "30", 60.0)
    assert (probe.video_index, probe.audio_index, probe.video_kbps, probe.size_bytes) == (0, 1, 4000, 123)
    assert not probe.interlaced and not probe.variable_frame_rate


def test_audio_first_picks_streams_by_type_not_position():
    probe = parse_probe(report(audio_stream(0, default=1), video_stream(index=1)), file_size=1)
    assert (probe.video_index, probe.audio_index) == (1, 0)


def test_the_default_audio_track_wins():
    probe = parse_probe(report(video_stream(), audio_stream(1), audio_stream(2, default=1)), file_size=1)
    assert probe.audio_index == 2


def test_no_audio():
    probe = parse_probe(report(video_stream()), file_size=1)
    assert probe.audio_index is None and probe.audio_codec is None


@pytest.mark.parametrize("rotation", [90, -90, 270])
def test_rotation_swaps_display_size(rotation):
    stream = video_stream(side_data_list=[{"side_data_type": "Display Matrix", "rotation": rotation}])
    probe = parse_probe(report(stream), file_size=1)
    assert (probe.width, probe.height) == (1080, 1920)


def test_legacy_rotate_tag():
    probe = parse_probe(report(video_stream(tags={"rotate": "90"})), file_size=1)
    assert (probe.width, probe.height, probe.rotation) == (1080, 1920, 90)


@pytest.mark.parametrize(
    ("size", "pixel_aspect", "rotation", "display"),
    [
        ((1440, 1080), "4:3", 0, (1920, 1080)),  # HDV
        ((720, 480), "32:27", 0, (853, 480)),  # NTSC DVD, 16:9
        ((720, 576), "16:15", 0, (768, 576)),  # PAL DVD, 4:3
        ((1440, 1080), "4:3", 90, (1080, 1920)),  # the pixels' aspect is the stored frame's, before rotation
        ((1920, 1080), "1:1", 0, (1920, 1080)),
        ((1920, 1080), "0:1", 0, (1920, 1080)),  # unknown: taken as square
        ((1920, 1080), "N/A", 0, (1920, 1080)),
    ],
)
def test_non_square_pixels_give_the_display_size(size, pixel_aspect, rotation, display):
    stream = video_stream(
        width=size[0], height=size[1], sample_aspect_ratio=pixel_aspect, side_data_list=[{"rotation": rotation}]
    )
    probe = parse_probe(report(stream), file_size=1)
    assert (probe.width, probe.height) == display


@pytest.mark.parametrize(
    ("video", "held"),
    [
        ({"duration": "52.0"}, 8.0),
        ({"duration": "59.7"}, 0.0),  # encoder padding: left as it is
        ({"duration": "50.0", "start_time": "10.0"}, 0.0),  # starts late, ends with the audio
        ({"duration": "N/A"}, 0.0),
        ({}, 0.0),
    ],
)
def test_audio_longer_than_the_video_is_matched_by_holding_the_last_frame(video, held):
    movie = report(video_stream(**video), audio_stream(1, default=1), duration="60.0")
    assert parse_probe(movie, file_size=1).held_frame_seconds == pytest.approx(held)


def test_interlaced_and_vfr_are_flagged():
    stream = video_stream(field_order="tt", avg_frame_rate="2997/100", r_frame_rate="1000/1")
    probe = parse_probe(report(stream), file_size=1)
    assert probe.interlaced and probe.variable_frame_rate
    assert probe.frame_rate == "60000/1001"  # 29.97i becomes 59.94p: one frame per field


@pytest.mark.parametrize(
    ("rate", "field_order", "output"),
    [("25", "tt", "50"), ("30000/1001", "bb", "60000/1001"), ("50", "tt", "50"), ("25", "progressive", "25")],
)
def test_interlaced_sources_get_a_frame_per_field_up_to_60_fps(rate, field_order, output):
    stream = video_stream(field_order=field_order, avg_frame_rate=rate, r_frame_rate=rate)
    assert parse_probe(report(stream), file_size=1).frame_rate == output


def test_cover_art_is_not_a_video():
    cover = video_stream(codec_name="mjpeg", disposition={"attached_pic": 1})
    with pytest.raises(MigrationError) as caught:
        parse_probe(report(cover, audio_stream(1, default=1)), file_size=1)
    assert caught.value.error_class is ErrorClass.NOT_VIDEO


@pytest.mark.parametrize(
    ("overrides", "error_class"),
    [
        ({"width": 16384, "height": 16384}, ErrorClass.UNSUPPORTED),
        # shown as 2048x16384, within the limit, but decoded at every one of its coded pixels
        ({"width": 16384, "height": 16384, "sample_aspect_ratio": "1:8"}, ErrorClass.UNSUPPORTED),
        ({"width": 8192, "height": 4320, "sample_aspect_ratio": "2:1"}, ErrorClass.UNSUPPORTED),  # shown twice as wide
        ({"width": 0}, ErrorClass.CORRUPT),
        ({"codec_name": "none"}, ErrorClass.UNSUPPORTED),
    ],
)
def test_limits_on_the_frame(overrides, error_class):
    probe = parse_probe(report(video_stream(**overrides)), file_size=1)
    with pytest.raises(MigrationError) as caught:
        check_limits(probe, max_pixels=8192 * 4320, max_duration_hours=12, max_tracks=32)
    assert caught.value.error_class is error_class


def test_limits_on_the_number_of_tracks():
    """Each track is an encode or an extraction and a rendition of its own."""
    many = [audio_stream(index) for index in range(1, 34)]
    probe = parse_probe(report(video_stream(), *many), file_size=1)
    with pytest.raises(MigrationError, match="33 audio tracks, over the limit of 32") as caught:
        check_limits(probe, max_pixels=8192 * 4320, max_duration_hours=12, max_tracks=32)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED
    check_limits(
        parse_probe(report(video_stream(), *many[:32]), file_size=1),
        max_pixels=8192 * 4320,
        max_duration_hours=12,
        max_tracks=32,
    )


def test_a_compact_listing_line_is_its_section_and_fields():
    assert parse_compact_line("packet|pts_time=0.040000|flags=K_\n") == (
        "packet",
        {"pts_time": "0.040000", "flags": "K_"},
    )
    assert parse_compact_line("stream|profile=High|sample_aspect_ratio=1:1|level=40|refs=4")[1]["level"] == "40"


@pytest.mark.parametrize(("duration", "error_class"), [("360000", ErrorClass.UNSUPPORTED), ("0", ErrorClass.CORRUPT)])
def test_limits_on_duration(duration, error_class):
    probe = parse_probe(report(video_stream(), duration=duration), file_size=1)
    with pytest.raises(MigrationError) as caught:
        check_limits(probe, max_pixels=8192 * 4320, max_duration_hours=12, max_tracks=32)
    assert caught.value.error_class is error_class


def test_failed_probe_classification():
    assert classify_probe_failure(b"", "").error_class is ErrorClass.CORRUPT
    mp4_head = b"\x00\x00\x00\x20ftypisom"
    assert looks_like_iso_bmff(mp4_head)
    assert classify_probe_failure(mp4_head, "moov atom not found").error_class is ErrorClass.CORRUPT
    assert classify_probe_failure(b"hello, world, this is text", "Invalid data").error_class is ErrorClass.NOT_VIDEO
    assert classify_probe_failure(b"\xff\xd8\xff\xe0\x00\x10JFIF", "Invalid data").error_class is ErrorClass.NOT_VIDEO


def test_failure_messages_do_not_show_worker_paths():
    error = classify_probe_failure(
        b"\x00\x00\x00\x20ftypisom", "/tmp/w/source.mp4: Invalid data found", "/tmp/w/source.mp4"
    )
    assert error.message == "broken MP4 container: Invalid data found"


@pytest.mark.parametrize(
    ("transfer", "hdr"), [("arib-std-b67", True), ("smpte2084", True), ("bt709", False), (None, False)]
)
def test_pq_and_hlg_sources_are_hdr(transfer, hdr):
    stream = video_stream(**({"color_transfer": transfer} if transfer else {}))
    probe = parse_probe(report(stream), file_size=1)
    assert (probe.color_transfer, probe.hdr) == (transfer, hdr)


def test_hdr10_static_metadata_is_read_in_x265s_notation():
    display = {
        "side_data_type": "Mastering display metadata",
        "red_x": "34000/50000",
        "red_y": "16000/50000",
        "green_x": "13250/50000",
        "green_y": "34500/50000",
        "blue_x": "7500/50000",
        "blue_y": "3000/50000",
        "white_point_x": "15635/50000",
        "white_point_y": "16450/50000",
        "min_luminance": "50/10000",
        "max_luminance": "10000000/10000",
    }
    light = {"side_data_type": "Content light level metadata", "max_content": 1000, "max_average": 400}
    assert parse_hdr10_metadata({"frames": [{"side_data_list": [display, light]}]}) == (
        "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)",
        "1000,400",
    )
    assert parse_hdr10_metadata({"frames": [{"side_data_list": [light]}]}) == (None, "1000,400")
    assert parse_hdr10_metadata({"frames": [{}]}) == parse_hdr10_metadata({}) == (None, None)
    assert parse_hdr10_metadata({"frames": [{"side_data_list": [{**display, "red_x": "1/0"}]}]}) == (None, None)


def test_every_audio_and_subtitle_track_is_kept_with_its_language_title_and_flags():
    streams = [
        video_stream(),
        audio_stream(1, default=1) | {"tags": {"language": "eng", "handler_name": "SoundHandler"}},
        audio_stream(2) | {"tags": {"language": "fre", "handler_name": "Version française"}},
        {
            "index": 3,
            "codec_type": "subtitle",
            "codec_name": "mov_text",
            "tags": {"language": "spa", "title": "Forzados"},
            "disposition": {"forced": 1},
        },
        {"index": 4, "codec_type": "subtitle", "codec_name": "hdmv_pgs_subtitle", "tags": {"language": "und"}},
    ]
    probe = parse_probe(report(*streams), file_size=1)
    assert [(t.index, t.language, t.title, t.default) for t in probe.audio_tracks] == [
        (1, "eng", None, True),
        (2, "fre", "Version française", False),  # a muxer's handler name is no title
    ]
    [subtitle] = probe.subtitle_tracks
    assert (subtitle.index, subtitle.codec, subtitle.language, subtitle.title, subtitle.forced) == (
        3,
        "mov_text",
        "spa",
        "Forzados",
        True,
    )
    [picture] = probe.image_subtitles  # cannot become WebVTT: recorded as not carried over
    assert (picture.codec, picture.language) == ("hdmv_pgs_subtitle", None)
    assert ProbeResult.from_dict(probe.to_dict()) == probe  # the tracks travel through XCom
