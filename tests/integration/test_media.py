"""Probing and transcoding real files with ffmpeg: odd and bad inputs end in a classified outcome."""

from __future__ import annotations

import json
import logging
import subprocess
import uuid
from pathlib import Path

import pytest

from devenv import media, services
from hls_operators import commands
from hls_operators.errors import ErrorClass, MigrationError
from hls_operators.ffmpeg import parse_progress, run_ffmpeg
from hls_operators.settings import Settings
from hls_operators.steps import probe_movie, probe_source, thumbnail_movie, transcode_movie
from hls_operators.storage import ObjectStore

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture
def store(seaweedfs) -> ObjectStore:
    bucket = f"m-{uuid.uuid4().hex[:10]}"
    services.create_bucket(seaweedfs.client(), bucket)
    return ObjectStore(seaweedfs.client(), bucket)


def settings_for(store: ObjectStore) -> Settings:
    return Settings.from_values({"bucket": store.bucket, "public_base_url": "https://cdn.example/m", "thumbnail_count": "2"})


def ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True)


def make_bad_input(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a movie\n" * 100)
    elif kind == "jpeg":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", str(path))
    elif kind == "audio_only":
        ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", "-f", "mp4", str(path))
    elif kind == "moov_at_end_truncated":
        whole = media.generate_movie(folder / "whole.mp4", width=320, height=240, seconds=3, faststart=False)
        media.truncated_copy(whole, path)
    elif kind == "hls_playlist":
        # A playlist named .mp4 that points at a local file: must be refused, not followed.
        path.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    elif kind == "ffconcat":
        path.write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    return path


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        ("empty", ErrorClass.CORRUPT),
        ("text", ErrorClass.NOT_VIDEO),
        ("jpeg", ErrorClass.NOT_VIDEO),
        ("audio_only", ErrorClass.NOT_VIDEO),
        ("moov_at_end_truncated", ErrorClass.CORRUPT),
        ("hls_playlist", ErrorClass.NOT_VIDEO),
        ("ffconcat", ErrorClass.NOT_VIDEO),
    ],
)
def test_bad_inputs_are_refused_by_the_probe(kind, error_class, folder):
    with pytest.raises(MigrationError) as caught:
        probe_source(make_bad_input(kind, folder))
    assert caught.value.error_class is error_class
    assert "passwd" not in caught.value.message


def test_a_truncated_faststart_file_is_never_published(store, folder, tmp_path):
    """ffprobe reports the full duration of such a file; only decoding shows it stops halfway."""
    whole = media.generate_movie(folder / "faststart.mp4", width=320, height=240, seconds=8)
    store.upload_file(media.truncated_copy(whole, folder / "half.mp4"), "uploads/half.mp4")
    settings = settings_for(store)
    url = f"s3://{store.bucket}/uploads/half.mp4"
    (tmp_path / "probe").mkdir()
    job = probe_movie(movie_id=1, source_url=url, expected_url=url, version="v1", store=store, settings=settings, work=tmp_path / "probe")
    assert job.probe.duration == pytest.approx(8, abs=0.1)
    (tmp_path / "transcode").mkdir()
    with pytest.raises(MigrationError) as caught:
        transcode_movie(job, store=store, settings=settings, work=tmp_path / "transcode", log=logging.getLogger())
    assert caught.value.error_class is ErrorClass.CORRUPT
    assert store.list_sizes("hls-work") == {}


def test_rotated_phone_video_becomes_portrait_renditions(store, folder, tmp_path):
    landscape = media.generate_movie(folder / "sensor.mp4", width=640, height=360, seconds=2)
    rotated = folder / "rotated.mp4"
    ffmpeg("-i", str(landscape), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))  # how phones store it
    store.upload_file(rotated, "uploads/rotated.mp4")
    settings = settings_for(store)
    url = f"s3://{store.bucket}/uploads/rotated.mp4"
    (tmp_path / "p").mkdir()
    job = probe_movie(movie_id=2, source_url=url, expected_url=url, version="v1", store=store, settings=settings, work=tmp_path / "p")
    assert (job.probe.width, job.probe.height) == (360, 640)
    assert [(r.name, r.width, r.height) for r in job.ladder] == [("360p", 360, 640)]
    (tmp_path / "t").mkdir()
    result = transcode_movie(job, store=store, settings=settings, work=tmp_path / "t", log=logging.getLogger())
    assert result["renditions"][0]["codecs"].startswith("avc1.64")
    assert "renditions.tar" in store.list_sizes("hls-work/2/v1")


def lavfi_movie(path: Path, *, video_args: list[str], size: str = "320x240", seconds: float = 2, rate: int = 25,
                audio_tracks: int = 0, default_audio: int = 0) -> Path:  # fmt: skip
    """A test movie from lavfi with any video encoder options and 0..n audio tracks."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    for track in range(audio_tracks):
        args += ["-f", "lavfi", "-i", f"sine=frequency={440 * (track + 1)}:duration={seconds}"]
    args += ["-map", "0:v"] + [arg for track in range(audio_tracks) for arg in ("-map", f"{track + 1}:a")]
    args += video_args
    if audio_tracks:
        args += ["-c:a", "aac"] + [
            arg for track in range(audio_tracks)
            for arg in (f"-disposition:a:{track}", "default" if track == default_audio else "0")
        ]  # fmt: skip
    ffmpeg(*args, str(path))
    return path


ODD_BUT_CONVERTIBLE = {
    "hevc": {"video_args": ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-x265-params", "log-level=error"]},
    "vp9": {"video_args": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]},
    "av1": {"video_args": ["-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "300k", "-row-mt", "1"], "seconds": 1},
    "10bit": {"video_args": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"]},
    "444": {"video_args": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"]},
    "interlaced": {"video_args": ["-vf", "tinterlace=interleave_top,fieldorder=tff", "-c:v", "libx264",
                                  "-preset", "ultrafast", "-flags", "+ildct+ilme", "-x264opts", "tff=1"], "rate": 50},
    "tiny_clip": {"video_args": ["-c:v", "libx264", "-preset", "ultrafast"], "seconds": 0.2, "audio_tracks": 1},
    "16x16": {"video_args": ["-c:v", "libx264", "-preset", "ultrafast"], "size": "16x16"},
    "vfr": {"video_args": ["-vf", "select='mod(n\\,3)'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast"],
            "rate": 30, "seconds": 3},
    "two_audio_tracks": {"video_args": ["-c:v", "libx264", "-preset", "ultrafast"], "audio_tracks": 2, "default_audio": 1},
    "video_only": {"video_args": ["-c:v", "libx264", "-preset", "ultrafast"]},
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(ODD_BUT_CONVERTIBLE))
def test_odd_sources_convert_to_8bit_420_progressive_h264(kind, store, folder, tmp_path):
    source = lavfi_movie(folder / f"{kind}.mp4", **ODD_BUT_CONVERTIBLE[kind])
    store.upload_file(source, f"uploads/{kind}.mp4")
    settings = settings_for(store)
    url = f"s3://{store.bucket}/uploads/{kind}.mp4"
    for step in ("p", "t", "out"):
        (tmp_path / step).mkdir()
    job = probe_movie(movie_id=9, source_url=url, expected_url=url, version="v1", store=store, settings=settings, work=tmp_path / "p")
    transcode_movie(job, store=store, settings=settings, work=tmp_path / "t", log=logging.getLogger())
    (tmp_path / "thumbs").mkdir()
    assert thumbnail_movie(job, store=store, settings=settings, work=tmp_path / "thumbs", log=logging.getLogger()) == 2
    store.download_file("hls-work/9/v1/renditions.tar", tmp_path / "r.tar")
    subprocess.run(["tar", "-xf", str(tmp_path / "r.tar"), "-C", str(tmp_path / "out")], check=True)
    segment = sorted((tmp_path / "out" / job.ladder[0].name).glob("*.ts"))[0]
    streams = hls_streams(segment)
    video = streams["video"]
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video.get("field_order", "progressive") == "progressive"
    assert ("audio" in streams) == (job.probe.audio_index is not None)
    if kind == "interlaced":
        assert job.probe.interlaced
    if kind == "vfr":
        assert job.probe.variable_frame_rate and job.probe.frame_rate == "20"
    if kind == "two_audio_tracks":
        assert job.probe.audio_index == 2  # the track marked default, not the first one
    if kind == "16x16":
        assert (video["width"], video["height"]) == (16, 16)


def hls_streams(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,pix_fmt,field_order,width,height",
         "-of", "json", str(path)], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {s["codec_type"]: s for s in json.loads(result.stdout)["streams"]}


def test_encrypted_sources_are_unsupported(folder):
    encrypted = folder / "cenc.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
           "-encryption_scheme", "cenc-aes-ctr", "-encryption_key", "76a6c65c5ea762046bd749a2e632ccbb",
           "-encryption_kid", "a7e61c373e219033c21091fa607bf3b8", str(encrypted))  # fmt: skip
    with pytest.raises(MigrationError) as caught:
        probe_source(encrypted)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "encrypted" in caught.value.message


def test_huge_frames_are_refused_before_any_transcoding(store, folder, tmp_path):
    huge = folder / "huge.mp4"  # 45 Mpixels, over the default limit of 8192x4320
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=9000x5000:rate=1:duration=1", "-frames:v", "1", "-c:v", "mjpeg", str(huge))
    store.upload_file(huge, "uploads/huge.mp4")
    url = f"s3://{store.bucket}/uploads/huge.mp4"
    with pytest.raises(MigrationError) as caught:
        probe_movie(movie_id=3, source_url=url, expected_url=url, version="v1", store=store, settings=settings_for(store), work=tmp_path)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "9000x5000" in caught.value.message


def test_a_lying_duration_is_refused(store, tmp_path):
    """A 6 s file whose header claims 100 hours: refused by the duration limit, not transcoded."""
    data = bytearray(media.CC0_CLIPS["friday.mp4"].read_bytes())
    header = data.find(b"mvhd") + 4 + 4 + 8  # version/flags, creation and modification times
    timescale = int.from_bytes(data[header : header + 4], "big")
    data[header + 4 : header + 8] = (timescale * 360000).to_bytes(4, "big")
    (tmp_path / "long.mp4").write_bytes(data)
    store.upload_file(tmp_path / "long.mp4", "uploads/long.mp4")
    url = f"s3://{store.bucket}/uploads/long.mp4"
    (tmp_path / "p").mkdir()
    with pytest.raises(MigrationError) as caught:
        probe_movie(movie_id=4, source_url=url, expected_url=url, version="v1", store=store, settings=settings_for(store), work=tmp_path / "p")
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "360000" in caught.value.message


def test_ffmpeg_is_stopped_at_its_timeout():
    slow = [*FFMPEG, "-re", "-f", "lavfi", "-i", "testsrc2=duration=60", "-f", "null", "-"]
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(slow, label="slow", timeout=1.0)
    assert caught.value.error_class is ErrorClass.TIMEOUT


def test_ffmpeg_failures_carry_stderr():
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg([*FFMPEG, "-i", "/nonexistent/input.mp4", "-f", "null", "-"], label="broken", timeout=30)
    assert caught.value.error_class is ErrorClass.TRANSCODE_FAILED and "No such file" in caught.value.message


def test_progress_blocks():
    progress = parse_progress({"out_time_us": "30000000", "speed": "1.5x", "progress": "continue"})
    assert progress.describe(60.0) == " 50.0% (30.0/60.0 s), speed 1.50x, ETA 20 s"
    assert parse_progress({"out_time_us": "N/A", "speed": "N/A"}).done_seconds == 0.0


def test_thumbnail_and_contact_sheet_commands_produce_images(folder, tmp_path):
    source = media.CC0_CLIPS["flower.mp4"]
    probe = probe_source(source)
    size = commands.thumbnail_size(probe, 640)
    for index, at in enumerate(commands.thumbnail_times(probe.duration, 3)):
        run_ffmpeg(commands.thumbnail_args(source, tmp_path / f"thumb_{index:03d}.jpg", probe, at, size), label="t", timeout=60)
    run_ffmpeg(commands.contact_sheet_args(tmp_path, 3, tmp_path / "sheet.jpg"), label="c", timeout=60)
    assert all((tmp_path / f"thumb_{i:03d}.jpg").read_bytes()[:2] == b"\xff\xd8" for i in range(3))
    assert (tmp_path / "sheet.jpg").stat().st_size > 0
