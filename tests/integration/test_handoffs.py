"""Steps hand over through storage; the next step on the same worker takes the hand-off from the
worker's cache only when it is exactly what storage holds."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from hls_operators.core.chunks import Chunk
from hls_operators.core.job import MovieJob
from hls_operators.edges.handoff import WORKER_CACHE_DIR, discard_handoffs, hand_over, receive
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import Settings
from tests.probes import make_probe

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg

log = logging.getLogger(__name__)
PROBE = make_probe(
    duration=12.0,
    video_index=0,
    width=640,
    height=360,
    frame_rate="25",
    video_kbps=None,
    audio_index=None,
    audio_codec=None,
    audio_channels=None,
)
JOB = MovieJob(7, "s3://b/m.mp4", "s3://b/m.mp4", "v1", PROBE, [], [Chunk(0, 0, None)])


@pytest.fixture
def store(seaweedfs) -> ObjectStore:
    return seaweedfs.new_store("h")


@pytest.fixture
def settings(store) -> Settings:
    return Settings.from_values({"bucket": store.bucket, "public_base_url": "https://cdn.example/m"})


def produced(work: Path, content: bytes) -> Path:
    folder = work / "chunk"
    (folder / "360p").mkdir(parents=True)
    (folder / "360p" / "chunk.mp4").write_bytes(content)
    (folder / "tiles").mkdir()
    (folder / "tiles" / "tile_0.jpg").write_bytes(b"jpeg")
    return folder


def task(worker: Path, name: str) -> Path:
    (worker / name).mkdir(parents=True)
    return worker / name


def received(store, settings, worker: Path, name: str, caplog) -> tuple[bytes, bool]:
    """The chunk's bytes as the package task on ``worker`` receives them, and whether from the cache."""
    caplog.clear()
    work = task(worker, name)
    with caplog.at_level(logging.INFO):
        receive(JOB, "chunk_000.tar", work / "chunks", store=store, settings=settings, work=work, log=log)
    assert (work / "chunks" / "tiles" / "tile_0.jpg").read_bytes() == b"jpeg"
    return (work / "chunks" / "360p" / "chunk.mp4").read_bytes(), "from this worker's cache" in caplog.text


def test_the_next_step_on_the_same_worker_takes_the_hand_off_without_a_download(store, settings, tmp_path, caplog):
    work = task(tmp_path / "worker", "encode_0")
    hand_over(produced(work, b"frames"), JOB, "chunk_000.tar", store=store, settings=settings, work=work)
    assert list(work.iterdir()) == []  # the tar is gone, the folder moved into the cache
    assert list(store.list_sizes("hls-work/7/v1")) == ["chunk_000.tar"]  # stored for any other worker
    assert received(store, settings, tmp_path / "worker", "package", caplog) == (b"frames", True)
    assert list((tmp_path / "worker" / WORKER_CACHE_DIR).iterdir()) == []
    # A retry of the package step, or the step on another worker, downloads the same hand-off.
    assert received(store, settings, tmp_path / "worker", "package-retry", caplog) == (b"frames", False)
    assert received(store, settings, tmp_path / "other-worker", "package", caplog) == (b"frames", False)


def test_a_hand_off_stored_again_by_another_worker_is_downloaded_not_taken_stale(store, settings, tmp_path, caplog):
    # The chunk task ran here, then its retry ran on another worker and stored a new hand-off.
    work = task(tmp_path / "worker", "encode_0")
    hand_over(produced(work, b"first try"), JOB, "chunk_000.tar", store=store, settings=settings, work=work)
    elsewhere = task(tmp_path / "other-worker", "encode_0")
    hand_over(produced(elsewhere, b"second try"), JOB, "chunk_000.tar", store=store, settings=settings, work=elsewhere)
    assert received(store, settings, tmp_path / "worker", "package", caplog) == (b"second try", False)


def test_a_converted_movie_s_hand_offs_go_with_those_of_its_earlier_failed_attempts(store, settings, tmp_path):
    work = task(tmp_path / "worker", "encode_0")
    earlier = replace(JOB, version="v0")  # an attempt that failed after its chunk task stored this
    for job in (earlier, JOB, replace(JOB, movie_id=70)):  # 70: another movie, whose id starts with 7
        hand_over(produced(work, b"frames"), job, "chunk_000.tar", store=store, settings=settings, work=work)
    assert discard_handoffs(7, store=store, settings=settings) == 2
    assert list(store.list_sizes("hls-work")) == ["70/v1/chunk_000.tar"]
