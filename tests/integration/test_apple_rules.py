"""Sources that tempt a pipeline into breaking Apple's HLS authoring rules, converted and published
for real (ffmpeg, SeaweedFS), then verified as the flip verifies them, conformance check included."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import m3u8
import pytest

from hls_operators.core.playlists import measure_bandwidth, parse_media_playlist, parse_stream_infs
from hls_operators.core.probe import parse_framecrc_times
from hls_operators.edges.storage import ObjectStore
from hls_operators.media.probing import source_copy_refusal
from hls_operators.settings import Settings
from tests import hls_checks
from tests.hostile_media import APPLE_RULES, HDR10_METADATA, hdr_hevc, lavfi_movie, make_convertible
from tests.transcoding import publish

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg

# A 2 s segment grid for the sources a mezzanine-minded pipeline would copy: their 4 s then have a
# segment boundary at 2 s, where an open GOP shows.
SETTINGS = {"segment_seconds": "2", "keyframe_seconds": "2"}
OWN_GRID = {"level_51": SETTINGS, "open_gop": SETTINGS}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("apple")


# The NAL unit types of an IDR picture: H.264's 5, HEVC's IDR_W_RADL and IDR_N_LP.
IDR_NAL_TYPES = {"h264": "5", "hevc": "19-20"}


def starts_with_an_idr(segment: Path, codec: str = "h264") -> bool:
    """The segment's first video frame is an IDR, so it decodes without the segment before it."""
    first = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-read_intervals", "%+#1",
         "-of", "csv=p=0", str(segment)], capture_output=True, text=True, check=True,
    ).stdout.split()[0].rstrip(",")  # fmt: skip
    idrs = subprocess.run(
        ["ffmpeg", "-v", "error", "-copyts", "-i", str(segment), "-map", "0:v:0", "-c", "copy",
         "-bsf:v", f"filter_units=pass_types={IDR_NAL_TYPES[codec]}", "-f", "framecrc", "-"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return round(float(first), 3) in {round(t, 3) for t in parse_framecrc_times(idrs)}


def downloaded_segments(store: ObjectStore, prefix: str, rendition: str, folder: Path) -> list[Path]:
    """The stored segments of ``rendition``, each readable on its own (fMP4 after its init section)."""
    local = folder / rendition
    local.mkdir()
    (local / "index.m3u8").write_text(store.read_text(f"{prefix}/{rendition}/index.m3u8"))
    for key in store.list_sizes(f"{prefix}/{rendition}/"):
        if not key.endswith(".m3u8"):
            store.download_file(f"{prefix}/{rendition}/{key}", local / key)
    return hls_checks.local_segments(local, folder)


@pytest.fixture(scope="module")
def published(seaweedfs, folder, tmp_path_factory):
    """Every source of ``APPLE_RULES`` through probe, transcode, thumbnails and upload, then verified."""
    store = seaweedfs.new_store("apple")
    bucket = store.bucket
    results = {}
    for movie_id, kind in enumerate(APPLE_RULES, start=1):
        settings = Settings.from_values(
            {
                "bucket": bucket,
                "public_base_url": "https://cdn.example/m",
                "thumbnail_count": "2",
                **OWN_GRID.get(kind, {}),
            }
        )
        source = make_convertible(kind, folder)
        job, prefix = publish(source, movie_id, store=store, settings=settings, work=tmp_path_factory.mktemp(kind))
        results[kind] = (job, store, prefix, source, settings)
    return results


@pytest.mark.parametrize("kind", sorted(APPLE_RULES))
def test_the_published_set_keeps_apples_rules(kind, published, tmp_path):
    job, store, prefix, _, _ = published[kind]
    master_text = store.read_text(f"{prefix}/master.m3u8")
    master = m3u8.loads(master_text)
    stored = store.list_sizes(prefix)
    assert master.is_variant and master.is_independent_segments
    assert (
        master.playlists[0].stream_info.bandwidth < max(p.stream_info.bandwidth for p in master.playlists)
        or len(master.playlists) == 1
    )
    for stream in parse_stream_infs(master_text):
        level = int(stream.attributes["CODECS"].split(",")[0][9:11], 16)
        assert stream.attributes["CODECS"].startswith("avc1.64") and level <= 42

    def measured(uri: str) -> tuple[int, int]:
        name, text = uri.split("/")[0], store.read_text(f"{prefix}/{uri}")
        segments = parse_media_playlist(text)
        return measure_bandwidth(
            segments, {s.uri: stored[f"{name}/{s.uri}"] for s in segments}, m3u8.loads(text).target_duration
        )

    # a variant's bit rate is its video's plus that of the largest audio rendition playing beside it
    audio = [measured(media.uri) for media in master.media if media.type == "AUDIO"]
    audio_peak, audio_average = max((p for p, _ in audio), default=0), max((a for _, a in audio), default=0)
    for playlist in master.playlists:
        name = playlist.uri.split("/")[0]
        peak, average = measured(playlist.uri)
        assert abs(playlist.stream_info.bandwidth - peak - audio_peak) <= 0.1 * playlist.stream_info.bandwidth
        assert (
            abs(playlist.stream_info.average_bandwidth - average - audio_average)
            <= 0.1 * playlist.stream_info.average_bandwidth
        )
        for local in downloaded_segments(store, prefix, name, tmp_path):
            assert starts_with_an_idr(local), f"{local.name} does not start with an IDR frame"


def test_a_scope_film_fits_each_rung_in_its_16_by_9_box(published):
    job = published["scope_4k"][0]
    assert [(r.name, r.width, r.height) for r in job.ladder] == [
        ("1080p", 1920, 802),
        ("720p", 1280, 534),
        ("480p", 854, 356),
        ("360p", 640, 268),
    ]


def test_a_short_tail_segment_does_not_inflate_bandwidth(published):
    job, store, prefix, _, _ = published["short_tail"]
    assert job.probe.duration == pytest.approx(12.1, abs=0.05)
    text = store.read_text(f"{prefix}/360p/index.m3u8")
    segments = parse_media_playlist(text)
    assert segments[-1].duration < 1  # the tail is there
    stored = store.list_sizes(prefix)
    sizes = {s.uri: stored[f"360p/{s.uri}"] for s in segments}
    one_segment_peak = max(sizes[s.uri] * 8 / s.duration for s in segments)
    declared = m3u8.loads(store.read_text(f"{prefix}/master.m3u8")).playlists[0].stream_info.bandwidth
    assert declared < one_segment_peak  # what a peak over single segments would have declared


@pytest.mark.parametrize(
    ("kind", "reason"), [("level_51", "Level 5.1 is above Apple's 4.2"), ("open_gop", "not an IDR frame (open GOP)")]
)
def test_a_source_that_would_break_a_rule_is_encoded_not_copied(kind, reason, published):
    job, _, _, source, settings = published[kind]
    assert (job.ladder[0].width, job.ladder[0].height) == (1920, 1080) and not job.ladder[0].source_copy
    refusal = source_copy_refusal(source, job.probe, job.ladder[0], settings.segment_seconds)
    assert reason in refusal


def test_1080i_becomes_1080p_at_one_frame_per_field(published):
    job, store, prefix, _, _ = published["interlaced_1080i"]
    assert job.probe.interlaced and Fraction(job.probe.frame_rate) == 50
    top = next(p for p in m3u8.loads(store.read_text(f"{prefix}/master.m3u8")).playlists if p.uri.startswith("1080p/"))
    assert top.stream_info.frame_rate == 50 and top.stream_info.codecs.startswith("avc1.64002A")  # High 4.2


def test_an_hlg_source_becomes_sdr_bt709_tagged_as_what_its_pixels_are(published, tmp_path):
    job, store, prefix, _, _ = published["hlg_hevc"]
    assert job.probe.hdr and job.probe.color_transfer == "arib-std-b67"
    for rung in job.ladder:
        segment = downloaded_segments(store, prefix, rung.name, tmp_path)[0]
        stream = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=pix_fmt,color_transfer,color_primaries,color_space", "-of", "json", str(segment)],
            capture_output=True, text=True, check=True,
        ).stdout)["streams"][0]  # fmt: skip
        assert stream == {
            "pix_fmt": "yuv420p",
            "color_space": "bt709",
            "color_transfer": "bt709",
            "color_primaries": "bt709",
        }
    # a thumbnail is tone-mapped too: its mid-grey test pattern is not crushed or washed out
    thumbs = tmp_path / "thumb.jpg"
    store.download_file(f"{prefix}/thumbs/thumb_000.jpg", thumbs)
    luma = subprocess.run(
        ["ffprobe", "-v", "error", "-f", "lavfi", f"movie={thumbs},signalstats", "-show_entries", "frame_tags=lavfi.signalstats.YAVG",
         "-of", "csv=p=0"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert 40 < float(luma) < 200


def test_quality_mode_drops_the_rungs_a_soft_picture_does_not_need_and_keeps_the_rules(seaweedfs, tmp_path):
    """A 1080p file holding a blurred 180p picture: at constant quality its lower rungs differ too
    little in bytes to be worth a switch, so one goes; the top and the lowest stay, and the set
    passes verification."""
    source = tmp_path / "soft.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=6",
         "-f", "lavfi", "-i", "sine=duration=6", "-vf", "scale=1920:1080:flags=bicubic,gblur=sigma=2", "-c:v", "libx264",
         "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)], check=True,
    )  # fmt: skip
    store = seaweedfs.new_store("soft")
    bucket = store.bucket
    settings = Settings.from_values(
        {
            "bucket": bucket,
            "public_base_url": "https://cdn.example/m",
            "thumbnail_count": "2",
            "rate_control": "quality",
        }
    )
    job, prefix = publish(
        source, 1, store=store, settings=settings, work=tmp_path / "work"
    )  # verified, Apple's rules included
    published = [p.uri.split("/")[0] for p in m3u8.loads(store.read_text(f"{prefix}/master.m3u8")).playlists]
    assert [r.name for r in job.ladder] == ["1080p", "720p", "480p", "360p"]
    assert {"1080p", "360p"} <= set(published) and len(set(published)) < 4
    assert not any(
        key.startswith(f"{name}/") for key in store.list_sizes(prefix) for name in {"720p", "480p"} - set(published)
    )


def test_hevc_rungs_sit_beside_the_h264_ones_true_to_their_streams_and_only_players_that_decode_hevc_see_them(
    seaweedfs, tmp_path
):
    """With ``hls_video_codecs`` ``h264,hevc`` every rung also comes in HEVC, in fMP4 with the ``hvc1``
    sample entry, at a lower bitrate, each segment starting on an IDR, with CODECS read from the
    stream; the set passes verification with Apple's rules, and hls.js in a browser without HEVC
    (Chromium here) plays it on the H.264 rungs alone."""
    source = tmp_path / "720p.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=8",
         "-f", "lavfi", "-i", "sine=duration=8", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
         "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)], check=True,
    )  # fmt: skip
    store = seaweedfs.new_store("hevc")
    bucket = store.bucket
    store.allow_origins(["*"])
    settings = Settings.from_values(
        {
            "bucket": bucket,
            "public_base_url": f"{seaweedfs.endpoint}/{bucket}",
            "thumbnail_count": "2",
            "segment_seconds": "2",
            "video_codecs": "h264,hevc",
            "x265_preset": "ultrafast",
        }  # the preset changes only the time
    )
    job, prefix = publish(
        source, 1, store=store, settings=settings, work=tmp_path / "work"
    )  # verified, Apple's rules included
    master_text = store.read_text(f"{prefix}/master.m3u8")
    streams = parse_stream_infs(master_text)
    variants = {s.uri.split("/")[0]: s for s in streams if not s.iframes}
    assert sorted(variants) == ["360p", "360p-hevc", "480p", "480p-hevc", "720p", "720p-hevc"]
    assert {s.uri for s in streams if s.iframes} == {f"{name}/iframes.m3u8" for name in variants}
    assert streams[0].attributes["CODECS"].startswith("avc1."), "a player without HEVC starts on H.264"
    for name in ("720p", "480p", "360p"):
        h264, hevc = variants[name], variants[f"{name}-hevc"]
        assert h264.attributes["RESOLUTION"] == hevc.attributes["RESOLUTION"]
        assert hevc.number("AVERAGE-BANDWIDTH") < 0.9 * h264.number("AVERAGE-BANDWIDTH")
        segments = downloaded_segments(store, prefix, f"{name}-hevc", tmp_path)
        # CODECS as ffprobe reads the stream: the hvc1 sample entry, Main profile, its level
        stream = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,codec_tag_string,profile,level",
             "-of", "json", str(segments[0])], capture_output=True, text=True, check=True,
        ).stdout)["streams"][0]  # fmt: skip
        assert (stream["codec_name"], stream["codec_tag_string"], stream["profile"]) == ("hevc", "hvc1", "Main")
        assert hevc.attributes["CODECS"].startswith(f"hvc1.1.6.L{stream['level']}.")
        assert len(segments) == 4 and all(starts_with_an_idr(segment, "hevc") for segment in segments)
    returncode, outcome = hls_checks.play_in_browser(f"{settings.public_url(prefix)}/master.m3u8")
    assert returncode == 0 and outcome["ok"], outcome
    assert sorted((level["height"], level["codec"][:5]) for level in outcome["levels"]) == [
        (360, "avc1."),
        (480, "avc1."),
        (720, "avc1."),
    ]


def first_frame_side_data(path: Path) -> list[dict]:
    frames = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout)["frames"]  # fmt: skip
    return [entry for entry in frames[0].get("side_data_list", []) if "SEI" not in entry["side_data_type"]]


@pytest.mark.parametrize(
    ("transfer", "video_range", "metadata"), [("arib-std-b67", "HLG", ""), ("smpte2084", "PQ", HDR10_METADATA)]
)
def test_the_hevc_rungs_of_an_hdr_source_keep_its_range_beside_the_tone_mapped_h264_ones(
    seaweedfs, tmp_path, transfer, video_range, metadata
):
    """An HDR source (HLG, or HDR10: PQ with its mastering display and light levels) with
    ``hls_video_codecs`` ``h264,hevc``: its HEVC rungs keep the source's pixels, colours and static
    metadata in Main10, its H.264 rungs are SDR BT.709; every variant and I-frame playlist declares
    its VIDEO-RANGE, and the set passes Apple's rules."""
    source = lavfi_movie(
        tmp_path / f"{video_range}.mp4",
        video_args=hdr_hevc(transfer, metadata),
        size="640x360",
        seconds=4,
        rate=30,
        audio_tracks=1,
    )
    store = seaweedfs.new_store("hdr")
    bucket = store.bucket
    settings = Settings.from_values(
        {
            "bucket": bucket,
            "public_base_url": "https://cdn.example/m",
            "thumbnail_count": "2",
            "segment_seconds": "2",
            "video_codecs": "h264,hevc",
            "x265_preset": "ultrafast",
        }
    )
    job, prefix = publish(
        source, 1, store=store, settings=settings, work=tmp_path / "work"
    )  # verified, Apple's rules included
    streams = parse_stream_infs(store.read_text(f"{prefix}/master.m3u8"))
    declared = {(s.uri, s.attributes["VIDEO-RANGE"], s.attributes["CODECS"].split(",")[0][:7]) for s in streams}
    assert declared == {
        ("360p/index.m3u8", "SDR", "avc1.64"),
        ("360p/iframes.m3u8", "SDR", "avc1.64"),
        ("360p-hevc/index.m3u8", video_range, "hvc1.2."),
        ("360p-hevc/iframes.m3u8", video_range, "hvc1.2."),
    }
    assert streams[0].attributes["VIDEO-RANGE"] == "SDR", "a player starts on SDR"
    expected = {
        "360p": {
            "profile": "High",
            "pix_fmt": "yuv420p",
            "color_transfer": "bt709",
            "color_primaries": "bt709",
            "color_space": "bt709",
        },
        "360p-hevc": {
            "profile": "Main 10",
            "pix_fmt": "yuv420p10le",
            "color_transfer": transfer,
            "color_primaries": "bt2020",
            "color_space": "bt2020nc",
        },
    }
    first_segments = {}
    for name, colours in expected.items():
        segments = downloaded_segments(store, prefix, name, tmp_path)
        stream = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=profile,pix_fmt,color_transfer,color_primaries,color_space", "-of", "json", str(segments[0])],
            capture_output=True, text=True, check=True,
        ).stdout)["streams"][0]  # fmt: skip
        assert stream == colours
        assert len(segments) == 2 and all(
            starts_with_an_idr(s, "hevc" if name.endswith("hevc") else "h264") for s in segments
        )
        first_segments[name] = segments[0]
    # HDR10's static metadata reaches the HEVC rungs as the source had it (HLG has none to carry)
    assert first_frame_side_data(first_segments["360p-hevc"]) == first_frame_side_data(source)
    assert (first_frame_side_data(source) != []) == bool(metadata)
