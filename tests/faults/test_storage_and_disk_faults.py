"""Faults caused for real, at the step level: the S3 server stopped in the middle of an upload, the
work folder running out of space, ffmpeg stalled on its input. Each test restores what it breaks."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from devenv import media, services
from hls_operators.core import commands
from hls_operators.core.chunks import Chunk
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.ladder import plan_ladder
from hls_operators.edges.ffmpeg import run_ffmpeg
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import Settings
from hls_operators.steps import probe_movie, publish_movie, thumbnail_movie, verify_movie
from tests.probes import make_probe
from tests.transcoding import transcode, upload_and_probe

pytestmark = pytest.mark.services
log = logging.getLogger(__name__)


@pytest.fixture
def own_storage(tmp_path):
    """A SeaweedFS of this test's own, so that stopping it disturbs no other test."""
    server = services.start_seaweedfs(tmp_path / "seaweedfs")
    services.create_bucket(server.client(), "media")
    yield server
    server.stop()


def prepared_job(store: ObjectStore, settings: Settings, work: Path, source: Path):
    folders = {name: work / name for name in ("transcode", "thumbs")}
    for folder in folders.values():
        folder.mkdir()
    job = upload_and_probe(source, 7, store=store, settings=settings, work=work / "probe")
    transcode(job, store=store, settings=settings, work=folders["transcode"])
    thumbnail_movie(job, store=store, settings=settings, work=folders["thumbs"], log=log)
    return job


class StopsServerAfter(ObjectStore):
    """Stops the real server once ``after`` uploads have started: the fault lands mid-upload."""

    def __init__(self, client, bucket, *, server: services.SeaweedFS, after: int):
        super().__init__(client, bucket)
        self.server, self.after, self.started, self.lock = server, after, 0, threading.Lock()

    def upload_file(self, path, key, headers=None):
        with self.lock:
            self.started += 1
            if self.started == self.after:
                self.server.stop()
        super().upload_file(path, key, headers)


def test_storage_stopped_mid_upload_then_restarted(own_storage, tmp_path):
    settings = Settings.from_values(
        {"bucket": "media", "public_base_url": "https://cdn.example/media", "upload_concurrency": "2"}
    )
    store = ObjectStore(own_storage.client(), "media")
    source = media.generate_movie(tmp_path / "src.mp4", width=640, height=360, seconds=20)
    job = prepared_job(store, settings, tmp_path, source)

    (tmp_path / "upload-1").mkdir()
    failing = StopsServerAfter(own_storage.client(), "media", server=own_storage, after=5)
    with pytest.raises(MigrationError) as caught:
        publish_movie(job, store=failing, settings=settings, work=tmp_path / "upload-1", log=log)
    assert caught.value.error_class is ErrorClass.STORAGE_UNAVAILABLE and caught.value.retryable

    restarted = services.start_seaweedfs(own_storage.data_dir, s3_port=own_storage.s3_port)
    own_storage.process = restarted.process  # the fixture stops whichever process runs now
    prefix = job.output_prefix(settings.output_prefix)
    partial = store.list_sizes(prefix)
    assert "master.m3u8" not in partial  # a partial set is never published: the master goes last
    assert not any(name.endswith("index.m3u8") for name in partial)

    (tmp_path / "upload-2").mkdir()
    published = publish_movie(job, store=store, settings=settings, work=tmp_path / "upload-2", log=log)
    verified = verify_movie(job, store=store, settings=settings)
    assert verified.objects == published.objects and "master.m3u8" in store.list_sizes(prefix)


def test_a_work_folder_too_small_for_the_renditions_is_disk_full(seaweedfs, small_disk, tmp_path):
    services.create_bucket(seaweedfs.client(), "disk-full")
    store = ObjectStore(seaweedfs.client(), "disk-full")
    settings = Settings.from_values({"bucket": "disk-full", "public_base_url": "https://cdn.example/m"})
    source = media.generate_movie(tmp_path / "src.mp4", width=1280, height=720, seconds=10)
    job = upload_and_probe(source, 8, store=store, settings=settings, work=tmp_path / "probe")
    with pytest.raises(MigrationError) as caught:
        transcode(job, store=store, settings=settings, work=small_disk)
    assert caught.value.error_class is ErrorClass.DISK_FULL
    assert "the transcode needs about" in caught.value.message  # refused before encoding, source on disk
    assert store.list_sizes("hls-work") == {}


def test_a_source_larger_than_the_disk_is_disk_full(seaweedfs, small_disk, tmp_path):
    services.create_bucket(seaweedfs.client(), "disk-full-source")
    store = ObjectStore(seaweedfs.client(), "disk-full-source")
    settings = Settings.from_values({"bucket": "disk-full-source", "public_base_url": "https://cdn.example/m"})
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(16 * 1024 * 1024))
    store.upload_file(big, "uploads/big.mp4")
    with pytest.raises(MigrationError) as caught:
        probe_movie(
            movie_id=9,
            source_url="s3://disk-full-source/uploads/big.mp4",
            expected_url="x",
            version="v1",
            store=store,
            settings=settings,
            work=small_disk,
        )
    assert caught.value.error_class is ErrorClass.DISK_FULL


def test_ffmpeg_on_a_full_disk_that_is_also_the_temporary_folder_is_disk_full(small_disk, tmp_path, monkeypatch):
    """A worker's work disk is its TMPDIR: once it is full, nothing can be written there, not even
    ffmpeg's messages. They must still be read, or a full disk passes for ffmpeg refusing the file
    (final) instead of disk_full (retried, maybe on another worker)."""
    source = media.generate_movie(tmp_path / "src.mp4", width=320, height=180, seconds=2)
    (small_disk / "filler").write_bytes(b"")
    with open(small_disk / "filler", "wb") as filler, pytest.raises(OSError):
        while True:
            filler.write(b"\0" * 1024 * 1024)  # until the disk is full
    monkeypatch.setattr("tempfile.tempdir", str(small_disk))  # TMPDIR, as on a worker
    args = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-y",
        "-i",
        str(source),
        "-frames:v",
        "30",
        str(small_disk / "out.mp4"),
    ]
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(args, label="movie 1 thumbnail 1/1", timeout=60)
    assert caught.value.error_class is ErrorClass.DISK_FULL and caught.value.retryable


def test_a_disk_that_fills_while_ffmpeg_writes_the_index_is_disk_full(small_disk, tmp_path):
    """ffmpeg 5.1 exits 0 when it cannot write an MP4's trailer (its moov index) and leaves a file no
    player can open; handed over, the next step fails on it as a broken file (final). The disk is
    filled to 64 KiB short of full, so the samples fit and the index does not."""
    with open(small_disk / "filler", "wb") as filler, pytest.raises(OSError):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()
    os.truncate(small_disk / "filler", (small_disk / "filler").stat().st_size - 65536)
    args = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=10",
        "-c:a",
        "aac",
        str(small_disk / "audio_0.m4a"),
    ]
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(args, label="movie 1 audio track 1/1", timeout=60)
    assert caught.value.error_class is ErrorClass.DISK_FULL and caught.value.retryable


def test_ffmpeg_stalled_on_its_input_is_stopped_by_a_timeout_scaled_to_the_source(tmp_path):
    """A FIFO that nobody writes to: ffmpeg waits on it forever, like a stalled network read."""
    settings = Settings.from_values(
        {
            "bucket": "b",
            "public_base_url": "x",
            "transcode_timeout_base_seconds": "2",
            "transcode_timeout_per_source_second": "0.1",
        }
    )
    stalled = tmp_path / "stalled.mp4"
    os.mkfifo(stalled)
    probe = make_probe(
        duration=10.0,
        video_index=0,
        width=320,
        height=240,
        frame_rate="25",
        video_kbps=None,
        audio_index=None,
        audio_codec=None,
        audio_channels=None,
    )
    timeout = settings.transcode_timeout(probe.duration)
    assert timeout == 3.0
    rungs = plan_ladder(320, 240, settings.rungs)
    for rung in rungs:
        (tmp_path / "out" / rung.name).mkdir(parents=True)
    args = commands.encode_chunk_args(stalled, tmp_path / "out", probe, rungs, settings.encoding, Chunk(0, 0, None))
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(args, label="stalled", timeout=timeout)
    assert caught.value.error_class is ErrorClass.TIMEOUT
