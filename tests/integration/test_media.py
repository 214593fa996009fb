"""Probing and transcoding real files with ffmpeg: odd and bad inputs end in a classified outcome."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import pytest

from devenv import media
from hls_operators.core import image_commands
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.edges.ffmpeg import parse_progress, run_ffmpeg
from hls_operators.edges.storage import ObjectStore
from hls_operators.media.probing import probe_file
from hls_operators.settings import Settings
from hls_operators.steps import thumbnail_movie
from tests import hls_checks, hostile_media
from tests.hostile_media import CONVERTIBLE, REFUSED, make_convertible, make_refused
from tests.transcoding import transcode, upload_and_probe

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture
def store(seaweedfs) -> ObjectStore:
    return seaweedfs.new_store("m")


def settings_for(store: ObjectStore) -> Settings:
    return Settings.from_values(
        {"bucket": store.bucket, "public_base_url": "https://cdn.example/m", "thumbnail_count": "2"}
    )


PROBE_REFUSES = [
    "empty",
    "text",
    "jpeg",
    "audio_only",
    "moov_at_end_truncated",
    "hls_playlist",
    "ffconcat",
    "encrypted",
]


@pytest.mark.parametrize("kind", PROBE_REFUSES)
def test_bad_inputs_are_refused_by_the_probe(kind, folder):
    with pytest.raises(MigrationError) as caught:
        probe_file(make_refused(kind, folder))
    assert caught.value.error_class.value == REFUSED[kind]
    assert "passwd" not in caught.value.message


def test_a_truncated_faststart_file_is_never_published(store, folder, tmp_path):
    """ffprobe reports the full duration of such a file; only decoding shows it stops halfway."""
    settings = settings_for(store)
    job = upload_and_probe(
        make_refused("truncated_faststart", folder), 1, store=store, settings=settings, work=tmp_path / "probe"
    )
    assert job.probe.duration == pytest.approx(8, abs=0.1)
    (tmp_path / "transcode").mkdir()
    with pytest.raises(MigrationError) as caught:
        transcode(job, store=store, settings=settings, work=tmp_path / "transcode")
    assert caught.value.error_class is ErrorClass.CORRUPT
    # Only the chunk's and the audio's hand-offs (kept for a retry of the package step); no
    # renditions, nothing published.
    assert sorted(key.rsplit("/", 1)[-1] for key in store.list_sizes("hls-work")) == ["audio.tar", "chunk_000.tar"]
    assert store.list_sizes("hls/") == {}


def test_rotated_phone_video_becomes_portrait_renditions(store, folder, tmp_path):
    rotated = make_convertible("rotated", folder)  # 640x360 sensor, display rotated 90 degrees
    settings = settings_for(store)
    job = upload_and_probe(rotated, 2, store=store, settings=settings, work=tmp_path / "p")
    assert (job.probe.width, job.probe.height) == (360, 640)
    assert [(r.name, r.width, r.height) for r in job.ladder] == [("360p", 360, 640)]
    (tmp_path / "t").mkdir()
    renditions, _usage = transcode(job, store=store, settings=settings, work=tmp_path / "t")
    assert renditions.video[0].codecs.startswith("avc1.64")
    assert "renditions.tar" in store.list_sizes("hls-work/2/v1")


@pytest.mark.parametrize("kind", sorted(set(CONVERTIBLE) - {"audio_first", "rotated"}))
def test_odd_sources_convert_to_8bit_420_progressive_h264(kind, store, folder, tmp_path):
    source = make_convertible(kind, folder)
    settings = settings_for(store)
    for step in ("t", "out"):
        (tmp_path / step).mkdir()
    job = upload_and_probe(source, 9, store=store, settings=settings, work=tmp_path / "p")
    transcode(job, store=store, settings=settings, work=tmp_path / "t")
    (tmp_path / "thumbs").mkdir()
    assert thumbnail_movie(job, store=store, settings=settings, work=tmp_path / "thumbs", log=logging.getLogger()) == 2
    store.download_file("hls-work/9/v1/renditions.tar", tmp_path / "r.tar")
    subprocess.run(["tar", "-xf", str(tmp_path / "r.tar"), "-C", str(tmp_path / "out")], check=True)
    segment = hls_checks.local_segments(tmp_path / "out" / job.ladder[0].name, tmp_path)[0]
    streams = hls_streams(segment)
    video = streams["video"]
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video.get("field_order", "progressive") == "progressive"
    assert "audio" not in streams  # the video rungs are video only: the audio is a rendition of its own
    audio_segments = [
        hls_checks.local_segments(folder, tmp_path)[0] for folder in sorted((tmp_path / "out").glob("audio_*"))
    ]
    assert len(audio_segments) == len(job.probe.audio_tracks) and bool(audio_segments) == (
        job.probe.audio_index is not None
    )
    for segment in audio_segments:
        assert hls_streams(segment)["audio"]["codec_name"] == "aac"
    if kind == "interlaced":
        assert job.probe.interlaced
    if kind == "vfr":
        assert job.probe.variable_frame_rate and job.probe.frame_rate == "20"
    if kind == "two_audio_tracks":
        assert job.probe.audio_index == 2  # the track marked default, not the first one
        assert [t.index for t in job.probe.audio_tracks] == [1, 2] and len(audio_segments) == 2  # both are kept
    if kind == "16x16":
        assert (video["width"], video["height"]) == (16, 16)
    if kind == "audio_longer":  # the last frame is held until the sound ends, in every rung
        assert job.probe.held_frame_seconds == pytest.approx(3, abs=0.1)
        playlist = (tmp_path / "out" / job.ladder[0].name / "index.m3u8").read_text()
        assert sum(float(d) for d in re.findall(r"#EXTINF:([\d.]+)", playlist)) == pytest.approx(5, abs=0.1)
    if kind == "anamorphic":  # 480x360 stored, 4:3 pixels: the picture is 16:9, now in square pixels
        assert (video["width"], video["height"], video["sample_aspect_ratio"]) == (640, 360, "1:1")


def hls_streams(path: Path) -> dict:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,pix_fmt,field_order,width,height,sample_aspect_ratio",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return {s["codec_type"]: s for s in json.loads(result.stdout)["streams"]}


def test_audio_going_on_for_chunks_after_the_last_frame_is_held_by_the_last_chunk(store, folder, tmp_path):
    source = hostile_media.lavfi_movie(
        folder / "long-tail.mp4", video_args=hostile_media.X264, seconds=8, audio_tracks=1, audio_seconds=20
    )
    settings = Settings.from_values(
        {"bucket": store.bucket, "public_base_url": "https://cdn.example/m", "chunk_seconds": "6"}
    )
    for step in ("t", "out"):
        (tmp_path / step).mkdir()
    job = upload_and_probe(source, 3, store=store, settings=settings, work=tmp_path / "p", chunk_slots=4)
    # Chunks of the 8 s of frames (none would have a frame of its own after them); the last one holds the last frame.
    assert [(c.start, c.end) for c in job.chunks] == [(0, 6), (6, None)]
    transcode(job, store=store, settings=settings, work=tmp_path / "t")
    store.download_file("hls-work/3/v1/renditions.tar", tmp_path / "r.tar")
    subprocess.run(["tar", "-xf", str(tmp_path / "r.tar"), "-C", str(tmp_path / "out")], check=True)
    playlist = (tmp_path / "out" / job.ladder[0].name / "index.m3u8").read_text()
    assert sum(float(d) for d in re.findall(r"#EXTINF:([\d.]+)", playlist)) == pytest.approx(20, abs=0.1)


def test_huge_frames_are_refused_before_any_transcoding(store, folder, tmp_path):
    with pytest.raises(MigrationError) as caught:
        upload_and_probe(
            make_refused("huge_frame", folder), 3, store=store, settings=settings_for(store), work=tmp_path
        )
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "9000x5000" in caught.value.message


def test_a_lying_duration_is_refused(store, folder, tmp_path):
    """A 6 s file whose header claims 100 hours: refused by the duration limit, not transcoded."""
    with pytest.raises(MigrationError) as caught:
        upload_and_probe(
            make_refused("lying_duration", folder), 4, store=store, settings=settings_for(store), work=tmp_path / "p"
        )
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "360000" in caught.value.message


def test_ffmpeg_is_stopped_at_its_timeout():
    slow = [*hostile_media.FFMPEG, "-re", "-f", "lavfi", "-i", "testsrc2=duration=60", "-f", "null", "-"]
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(slow, label="slow", timeout=1.0)
    assert caught.value.error_class is ErrorClass.TIMEOUT


def test_ffmpeg_failures_carry_stderr():
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(
            [*hostile_media.FFMPEG, "-i", "/nonexistent/input.mp4", "-f", "null", "-"], label="broken", timeout=30
        )
    assert caught.value.error_class is ErrorClass.TRANSCODE_FAILED and "No such file" in caught.value.message


def test_progress_blocks():
    progress = parse_progress({"out_time_us": "30000000", "speed": "1.5x", "progress": "continue"})
    assert progress.describe(60.0) == " 50.0% (30.0/60.0 s), speed 1.50x, ETA 20 s"
    assert parse_progress({"out_time_us": "N/A", "speed": "N/A"}).done_seconds == 0.0


def test_thumbnail_and_contact_sheet_commands_produce_images(folder, tmp_path):
    source = media.CC0_CLIPS["flower.mp4"]
    probe = probe_file(source)
    size = image_commands.thumbnail_size(probe, 640)
    for index, at in enumerate(image_commands.thumbnail_times(probe.duration, 3, float(probe.fps))):
        run_ffmpeg(
            image_commands.thumbnail_args(source, tmp_path / f"thumb_{index:03d}.jpg", probe, at, size),
            label="t",
            timeout=60,
        )
    run_ffmpeg(image_commands.contact_sheet_args(tmp_path, 3, tmp_path / "sheet.jpg"), label="c", timeout=60)
    assert all((tmp_path / f"thumb_{i:03d}.jpg").read_bytes()[:2] == b"\xff\xd8" for i in range(3))
    assert (tmp_path / "sheet.jpg").stat().st_size > 0


def compliant_source(path: Path, *, gop_seconds: int) -> Path:
    """720p30 H.264 High, capped under the 720p rung's limit, a closed GOP of ``gop_seconds``."""
    subprocess.run(
        [*hostile_media.FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=13",
         "-f", "lavfi", "-i", "sine=duration=13", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high",
         "-pix_fmt", "yuv420p", "-b:v", "1500k", "-maxrate", "2000k", "-bufsize", "4000k",
         "-g", str(30 * gop_seconds), "-keyint_min", str(30 * gop_seconds), "-sc_threshold", "0",
         "-c:a", "aac", "-movflags", "+faststart", str(path)], check=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(("gop_seconds", "copied"), [(2, True), (4, False)])
def test_a_compliant_top_rung_is_copied_and_cut_where_the_encoded_rungs_are(gop_seconds, copied, store, tmp_path):
    source = compliant_source(tmp_path / "mezzanine.mp4", gop_seconds=gop_seconds)
    settings = settings_for(store)
    for step in ("t", "out"):
        (tmp_path / step).mkdir()
    job = upload_and_probe(source, 5, store=store, settings=settings, work=tmp_path / "p")
    assert [r.source_copy for r in job.ladder] == [copied, False, False]  # 720p, 480p, 360p
    transcode(job, store=store, settings=settings, work=tmp_path / "t")
    store.download_file("hls-work/5/v1/renditions.tar", tmp_path / "r.tar")
    subprocess.run(["tar", "-xf", str(tmp_path / "r.tar"), "-C", str(tmp_path / "out")], check=True)
    cuts = []
    for rung in job.ladder:
        playlist = (tmp_path / "out" / rung.name / "index.m3u8").read_text()
        cuts.append(re.findall(r"#EXTINF:([\d.]+)", playlist))
        segments = hls_checks.local_segments(tmp_path / "out" / rung.name, tmp_path)
        assert all(first_frame_is_keyframe(segment) for segment in segments)
    assert cuts[0] == cuts[1] == cuts[2] and [float(d) for d in cuts[0]] == [6.0, 6.0, 1.0]
    # The copied rung carries the source's own pictures, bit for bit; an encoded one never does.
    assert (decoded_md5(source) == decoded_md5(tmp_path / "out" / "720p" / "index.m3u8")) == copied


def first_frame_is_keyframe(segment: Path) -> bool:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame",
         "-of", "csv=p=0", str(segment)], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.split(",")[0].strip() == "1"


def decoded_md5(path: Path) -> str:
    result = subprocess.run(
        [*hostile_media.FFMPEG, "-i", str(path), "-map", "0:v", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()
