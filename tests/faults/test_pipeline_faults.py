"""Faults during real runs of ``hls_migration`` on the session's Airflow (scheduler, triggerer,
LocalExecutor): the application edits a movie mid-conversion, runs overlap, the work disk is full,
PostgreSQL restarts, ffmpeg alone is killed. Each fault is caused for real and only where it is
about: the work disk is a Variable, the PostgreSQL restarted is a catalog's own, the storage stopped
a bucket's own."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from pathlib import Path

import pytest

from devenv import media, services
from devenv.catalog_seed import SeedMovie
from tests.conftest import BackgroundRun, make_pipeline

pytestmark = [pytest.mark.services, pytest.mark.airflow]


def wait_for(condition, *, timeout: float, what: str, run: BackgroundRun | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if run is not None and run.poll() is not None:
            raise AssertionError(f"the run ended before {what}")
        time.sleep(0.3)
    raise TimeoutError(what)


def transcode_started(pipeline, movie_id: int) -> bool:
    if pipeline.query("SELECT to_regclass('hls_conversions')") == [(None,)]:
        return False  # the run has not created its tables yet
    rows = pipeline.query("SELECT 1 FROM hls_conversions WHERE movie_id = %s AND steps ? 'encode_0'", (movie_id,))
    return bool(rows)


def succeeded(pipeline, movie_id: int) -> list[str]:
    return [
        row[0]
        for row in pipeline.query(
            "SELECT master_url FROM hls_conversions WHERE movie_id = %s AND status = 'succeeded'", (movie_id,)
        )
    ]


def video_url(pipeline, movie_id: int) -> str:
    return pipeline.query("SELECT video_url FROM movies WHERE id = %s", (movie_id,))[0][0]


def seed(pipeline, folder, movies: dict[int, tuple[int, int, int]]) -> dict[int, str]:
    """``{id: (width, height, seconds)}`` generated and seeded; returns the video URLs."""
    return pipeline.seed(
        movies=[
            SeedMovie(i, f"Movie {i}", media.generate_movie(folder / f"{i}.mp4", width=w, height=h, seconds=s))
            for i, (w, h, s) in movies.items()
        ],
    )


def test_an_edit_by_the_application_during_conversion_wins(pipeline, tmp_path):
    urls = seed(pipeline, tmp_path, {1: (640, 360, 10)})
    run = pipeline.start_run("hls_migration", {"movie_ids": [1]})
    wait_for(lambda: transcode_started(pipeline, 1), timeout=120, what="transcode started", run=run)
    recut = urls[1].replace("/1.mp4", "/1-recut.mp4")
    pipeline.seaweedfs.client().copy_object(
        Bucket=pipeline.bucket,
        Key="uploads/1/1-recut.mp4",
        CopySource={"Bucket": pipeline.bucket, "Key": "uploads/1/1.mp4"},
    )
    pipeline.query("UPDATE movies SET video_url = %s WHERE id = 1", (recut,))
    assert run.wait() == "failed"
    assert video_url(pipeline, 1) == recut
    assert pipeline.query(
        "SELECT status, error_class FROM hls_conversions WHERE movie_id = 1 ORDER BY id DESC LIMIT 1"
    ) == [("failed", "catalog_changed")]
    assert succeeded(pipeline, 1) == []
    assert pipeline.query("SELECT count(*) FROM hls_claims WHERE movie_id = 1") == [(0,)]
    # The set it uploaded can never be pointed at: it goes, with the hand-offs.
    store = pipeline.seaweedfs.client()
    for prefix in ("hls/movies/1/", "hls-work/1/"):
        assert store.list_objects_v2(Bucket=pipeline.bucket, Prefix=prefix).get("KeyCount") == 0, prefix


def test_overlapping_runs_and_a_duplicate_trigger_convert_each_movie_once(pipeline, tmp_path):
    """A wave and, while it runs, "Convert to HLS" triggers for movies it takes, one of them twice."""
    seed(pipeline, tmp_path, {i: (480, 270, 3) for i in range(2, 6)})
    # resume: the edit above failed the only movie of its wave, which put the migration on hold.
    wave = pipeline.start_run("hls_migration", {"resume": True})
    cluster = wave.cluster
    buttons = [cluster.trigger("hls_convert_movie", {"movie_id": movie_id}) for movie_id in (3, 3, 5)]
    wave.wait()
    for run_id in buttons:
        cluster.wait_for_run("hls_convert_movie", run_id)
    for movie_id in range(1, 6):  # movie 1's edited URL is an MP4 again, so it is taken too
        masters = succeeded(pipeline, movie_id)
        assert len(masters) == 1, (movie_id, masters)
        assert video_url(pipeline, movie_id) == masters[0]


def test_a_full_work_disk_is_classified_cleaned_and_publishes_nothing(pipeline, small_disk, tmp_path):
    urls = seed(pipeline, tmp_path, {6: (1280, 720, 10)})
    run = pipeline.start_run("hls_migration", {"movie_ids": [6]}, variables={"hls_tmp_dir": str(small_disk)})
    assert run.wait() == "failed"
    rows = pipeline.query("SELECT status, error_class FROM hls_conversions WHERE movie_id = 6 ORDER BY id")
    assert rows and all(row == ("failed", "disk_full") for row in rows)
    assert len(rows) == 3  # disk_full is retried (another worker may have room): 1 try + 2 retries
    assert [p for p in small_disk.rglob("*") if p.is_file()] == []  # the cached source gave way too
    assert (
        pipeline.seaweedfs.client().list_objects_v2(Bucket=pipeline.bucket, Prefix="hls/movies/6/").get("KeyCount") == 0
    )
    assert video_url(pipeline, 6) == urls[6]


@pytest.fixture
def private_postgres_pipeline(seaweedfs, airflow_home, shared_airflow, artifacts):
    """A catalog on a PostgreSQL of this test's own, which the test restarts. Its folder lies in
    the artifacts, not pytest's tmp_path: the postgres user must be able to read its parents."""
    server = services.start_private_postgres(artifacts / f"postgres-{uuid.uuid4().hex[:8]}")
    yield from with_private_server(server, make_pipeline(server, seaweedfs, airflow_home, shared_airflow, artifacts))


def with_private_server(server, pipelines):
    """(server, pipeline) for a fixture to yield; afterwards the pipeline's catalog goes, then the server."""
    try:
        yield server, next(pipelines)
    finally:
        pipelines.close()
        server.stop()


def test_postgres_restarted_during_a_run_recovers_or_the_next_run_finishes(private_postgres_pipeline, tmp_path):
    server, pipeline = private_postgres_pipeline
    seed(pipeline, tmp_path, {7: (640, 360, 10)})
    run = pipeline.start_run("hls_migration", {"movie_ids": [7]})
    wait_for(lambda: transcode_started(pipeline, 7), timeout=120, what="transcode started", run=run)
    services.restart_private_postgres(server)
    if run.wait() != "success":
        assert pipeline.start_run("hls_migration", {"movie_ids": [7]}).wait() == "success"
    masters = succeeded(pipeline, 7)
    assert len(masters) == 1 and video_url(pipeline, 7) == masters[0]


@pytest.fixture
def private_storage_pipeline(postgres, airflow_home, shared_airflow, artifacts, tmp_path):
    """A bucket on a SeaweedFS of this test's own, which the test stops."""
    server = services.start_seaweedfs(tmp_path / "seaweedfs")
    yield from with_private_server(server, make_pipeline(postgres, server, airflow_home, shared_airflow, artifacts))


def test_storage_down_during_a_wave_turns_it_red_and_holds_the_migration(private_storage_pipeline, tmp_path):
    """Not bad input but the fleet: every movie fails once retried, the wave is red and holds."""
    server, pipeline = private_storage_pipeline
    urls = seed(pipeline, tmp_path, {9: (640, 360, 6), 10: (640, 360, 6)})
    run = pipeline.start_run("hls_migration", {"movie_ids": [9, 10]})
    wait_for(
        lambda: transcode_started(pipeline, 9) or transcode_started(pipeline, 10),
        timeout=120,
        what="a transcode started",
        run=run,
    )
    server.stop()
    assert run.wait() == "failed"
    [(reason,)] = pipeline.query("SELECT reason FROM hls_hold")
    assert reason.startswith("2 of 2 movies failed (100%, over the 25% allowed): "), reason
    classes = {row[0] for row in pipeline.query("SELECT error_class FROM hls_conversions WHERE status = 'failed'")}
    assert classes and classes <= {"storage_unavailable", "source_unreachable"}, classes
    assert video_url(pipeline, 9) == urls[9] and video_url(pipeline, 10) == urls[10]


def ffmpeg_encoding_under(work_dir) -> list[int]:
    """Pids of the chunk encodes running in this pipeline's work folder."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            proc.name.isdigit()
            and argv[0].endswith(b"ffmpeg")
            and any(str(work_dir).encode() in a and a.endswith(b"video.mp4") for a in argv)
        ):
            pids.append(int(proc.name))
    return pids


def test_ffmpeg_alone_killed_mid_encode_is_retried_and_converts_once(pipeline, tmp_path):
    """What the kernel's OOM killer does to the largest process on a worker: only ffmpeg dies, the
    task survives it. The try is ledgered as a fault of the worker, retried, and the movie converts once."""
    urls = seed(pipeline, tmp_path, {8: (1280, 720, 10)})
    run = pipeline.start_run("hls_migration", {"movie_ids": [8]})
    wait_for(lambda: ffmpeg_encoding_under(pipeline.work_dir), timeout=180, what="the chunk encode started", run=run)
    time.sleep(0.5)  # inside the encode, not at its start: it takes several seconds
    victims = ffmpeg_encoding_under(pipeline.work_dir)
    assert victims, "the encode ended before it could be killed"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert run.wait() == "success"
    rows = pipeline.query(
        "SELECT status, error_class, error_message FROM hls_conversions WHERE movie_id = 8 ORDER BY id"
    )
    assert rows[0][:2] == ("failed", "worker_lost")
    assert re.fullmatch(r"movie 8 chunk 1/1 \(0-10 s\) was killed by SIGKILL .*", rows[0][2])
    assert [row[0] for row in rows] == ["failed", "succeeded"]
    masters = succeeded(pipeline, 8)
    assert len(masters) == 1 and video_url(pipeline, 8) == masters[0] != urls[8]
