"""Retiring originals against real storage and a real catalog: a dry run, a real run, the refusal
of a shared MP4, and a rollback that brings the MP4 back from the archive."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from devenv import media
from hls_operators.edges import catalog, ledger
from hls_operators.maintenance import restore_original, retire_originals
from hls_operators.settings import Settings
from tests.transcoding import publish

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg

RETIRED, SHARED, TRAILER_OWNER, RECENT = 1, 2, 3, 4
LOG = logging.getLogger("retire")


@pytest.fixture
def world(catalog_and_bucket, seaweedfs, tmp_path):
    store, connect, bucket = catalog_and_bucket.store, catalog_and_bucket.connect, catalog_and_bucket.store.bucket
    settings = Settings.from_values(
        {"bucket": bucket, "public_base_url": f"{seaweedfs.endpoint}/{bucket}", "thumbnail_count": "2"}
    )
    source = media.generate_movie(tmp_path / "film.mp4", width=320, height=240, seconds=2)
    job, prefix = publish(source, RETIRED, store=store, settings=settings, work=tmp_path / "work")
    master = settings.public_url(f"{prefix}/master.m3u8")
    mp4 = {movie_id: f"s3://{bucket}/uploads/{movie_id}/film.mp4" for movie_id in (RETIRED, SHARED, RECENT)}
    for movie_id in (SHARED, RECENT):
        store.upload_file(source, f"uploads/{movie_id}/film.mp4")
    with connect() as conn, conn, conn.cursor() as cur:
        for movie_id, days in ((RETIRED, 40), (SHARED, 40), (RECENT, 1)):
            cur.execute(
                "INSERT INTO movies (id, title, slug, video_url) VALUES (%s, %s, %s, %s)",
                (movie_id, "Film", f"f{movie_id}", master),
            )
            cur.execute(
                "INSERT INTO hls_conversions (movie_id, dag_id, run_id, attempt, try_number, status, source_url, probe,"
                " output_prefix, master_url, finished_at) VALUES (%s, 'hls_migration', 'r', 1, 1, 'succeeded', %s, %s, %s, %s,"
                " now() - make_interval(days => %s))",
                (movie_id, mp4[movie_id], json.dumps(job.probe.to_dict()), prefix, master, days),
            )
        cur.execute(
            "INSERT INTO movies (id, title, slug, video_url, trailer_url) VALUES (%s, 'Other', 'o', %s, %s)",
            (TRAILER_OWNER, "https://cdn.example/o.mp4", mp4[SHARED]),
        )
    return store, settings, connect, mp4


def retire(world, *, dry_run: bool, run_id: str):
    store, settings, connect, _ = world
    return {
        o.movie_id: o
        for o in retire_originals(
            store=store,
            settings=settings,
            connect=connect,
            movie_ids=None,
            grace=timedelta(days=30),
            dry_run=dry_run,
            run_id=run_id,
            log=LOG,
        )
    }


def state(connect, movie_id: int) -> str:
    with connect() as conn:
        return catalog.movie_status(conn, movie_id)["state"]


def test_originals_are_archived_checked_and_deleted_and_a_rollback_brings_them_back(world):
    store, settings, connect, mp4 = world
    size = store.object_size(f"uploads/{RETIRED}/film.mp4")

    planned = retire(world, dry_run=True, run_id="dry")
    assert sorted(planned) == [RETIRED, SHARED]  # the recent one has not played long enough
    assert (planned[RETIRED].status, planned[RETIRED].bytes) == ("dry_run", size)
    assert planned[SHARED].status == "refused" and planned[SHARED].reason.endswith(
        f"uses this MP4: movie {TRAILER_OWNER}'s trailer"
    )
    assert store.object_size(f"uploads/{RETIRED}/film.mp4") == size  # a dry run touches nothing

    done = retire(world, dry_run=False, run_id="real")
    retired = done[RETIRED]
    assert (
        retired.status == "retired"
        and retired.archive == f"{store.bucket}/archive/originals/{store.bucket}/uploads/{RETIRED}/film.mp4"
    )
    assert store.object_size(f"uploads/{RETIRED}/film.mp4") is None
    archived_key = retired.archive.split("/", 1)[1]
    assert store.object_size(archived_key) == size and store.sha256(archived_key) == retired.sha256
    assert done[SHARED].status == "refused" and store.object_size(f"uploads/{SHARED}/film.mp4") == size
    assert state(connect, RETIRED) == "retired" and state(connect, SHARED) == "ready"
    assert RETIRED not in retire(world, dry_run=False, run_id="again")  # retired once

    assert restore_original(RETIRED, store=store, settings=settings, connect=connect, run_id="rollback", log=LOG)
    assert store.sha256(f"uploads/{RETIRED}/film.mp4") == retired.sha256
    with connect() as conn:
        assert catalog.roll_back(conn, ledger.AttemptKey("hls_rollback", "rollback", RETIRED)) == mp4[RETIRED]
    assert state(connect, RETIRED) == "rolled_back"
    assert not restore_original(RETIRED, store=store, settings=settings, connect=connect, run_id="rollback", log=LOG)


def test_a_movie_whose_published_set_no_longer_verifies_keeps_its_original(world):
    store, _, _, _ = world
    playlists = [key for key in store.list_sizes("hls/movies") if key.endswith("/index.m3u8")]
    store.delete(f"hls/movies/{playlists[0]}")
    refused = retire(world, dry_run=False, run_id="broken")[RETIRED]
    assert refused.status == "refused" and "fails verification now" in refused.reason
    assert store.object_size(f"uploads/{RETIRED}/film.mp4") is not None


@pytest.mark.parametrize("what", ["trailer", "rollback point"])
@pytest.mark.parametrize(
    "spelling",
    [
        "{base}/uploads/1/film.mp4?v=2",
        "{base}/uploads/1/%66ilm.mp4",
        "s3://{bucket}/uploads/1/film.mp4?v=2",
        "s3://{bucket}/uploads/1/film.mp4#.mp4",
    ],
)
def test_an_mp4_another_movie_names_in_another_spelling_is_kept(world, spelling, what):
    """The same object under another URL: a query, an escape, the public base for s3://. Deleting it
    would break the other movie's trailer, or its rollback."""
    store, settings, connect, mp4 = world
    alias = spelling.format(base=settings.public_base_url, bucket=store.bucket)
    with connect() as conn, conn, conn.cursor() as cur:
        if what == "trailer":
            cur.execute(
                "INSERT INTO movies (id, title, slug, video_url, trailer_url) VALUES (5, 'Alias', 'a', 'https://cdn.example/a.mp4', %s)",
                (alias,),
            )
        else:  # movie 5 plays from HLS, converted from the same MP4 a day ago
            cur.execute(
                "INSERT INTO movies (id, title, slug, video_url) VALUES (5, 'Alias', 'a', 'https://cdn.example/5/master.m3u8')"
            )
            cur.execute(
                "INSERT INTO hls_conversions (movie_id, dag_id, run_id, attempt, try_number, status, source_url, master_url,"
                " finished_at) VALUES (5, 'hls_migration', 'r5', 1, 1, 'succeeded', %s, 'https://cdn.example/5/master.m3u8',"
                " now() - interval '1 day')",
                (alias,),
            )
    kept = retire(world, dry_run=False, run_id="aliases")[RETIRED]
    assert kept.status == "refused" and kept.reason.endswith(f"uses this MP4: movie 5's {what}")
    assert store.object_size(f"uploads/{RETIRED}/film.mp4") is not None
