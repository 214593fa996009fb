"""The sweep against real storage and a real ledger: what nothing can reach goes, the rest stays."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from hls_operators.edges.storage import ObjectStore
from hls_operators.maintenance import sweep
from hls_operators.settings import Settings

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg

OLD, NEW = "20261101T000000Z-aaaaaa", "20261110T000000Z-bbbbbb"


@pytest.fixture
def world(catalog_and_bucket):
    store = catalog_and_bucket.store
    return (
        store,
        Settings.from_values({"bucket": store.bucket, "public_base_url": "https://cdn.example/m"}),
        catalog_and_bucket.connect,
    )


def publish(store: ObjectStore, prefix: str, objects: int = 2) -> None:
    for index in range(objects):
        store.put_text(f"{prefix}/720p/seg_{index:05d}.ts", "x" * 100, {"ContentType": "video/mp2t"})
    store.put_text(f"{prefix}/master.m3u8", "#EXTM3U\n", {"ContentType": "application/vnd.apple.mpegurl"})


def test_superseded_versions_and_failed_uploads_go_after_a_dry_run_lists_them(world):
    store, settings, connect = world
    master = f"https://cdn.example/m/hls/movies/1/{NEW}/master.m3u8"
    with connect() as conn, conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO movies (id, title, slug, video_url) VALUES (1, 'Re-converted', 'one', %s), "
            "(2, 'Failed after upload', 'two', 'https://cdn.example/2.mp4'), "
            "(3, 'Being converted', 'three', 'https://cdn.example/3.mp4')",
            (master,),
        )
        for movie_id, version, status, minutes in [
            (1, OLD, "succeeded", 30),
            (1, NEW, "succeeded", 10),
            (2, OLD, "failed", 20),
            (3, OLD, "running", 5),
        ]:
            cur.execute(
                "INSERT INTO hls_conversions (movie_id, dag_id, run_id, attempt, try_number, status, output_prefix,"
                " master_url, finished_at) VALUES (%s, 'hls_migration', %s, 1, 1, %s, %s, %s, now() - make_interval(mins => %s))",
                (
                    movie_id,
                    f"run-{movie_id}-{version}",
                    status,
                    f"hls/movies/{movie_id}/{version}",
                    f"https://cdn.example/m/hls/movies/{movie_id}/{version}/master.m3u8",
                    minutes,
                ),
            )
    for movie_id, version in [(1, OLD), (1, NEW), (2, OLD), (3, OLD)]:
        publish(store, f"hls/movies/{movie_id}/{version}")
    store.put_text(f"hls-work/2/{OLD}/chunk_000.tar", "t" * 50, {"ContentType": "application/x-tar"})
    log = logging.getLogger("sweep")

    listed = sweep(store=store, settings=settings, connect=connect, grace=timedelta(days=7), dry_run=True, log=log)
    expected = [f"hls/movies/1/{OLD}", f"hls/movies/2/{OLD}", f"hls-work/2/{OLD}"]
    assert [s.prefix for s in listed] == expected
    assert [(s.objects, s.bytes) for s in listed] == [(3, 208), (3, 208), (1, 50)]
    assert store.list_sizes(f"hls/movies/1/{OLD}")  # a dry run deletes nothing

    assert [
        s.prefix
        for s in sweep(store=store, settings=settings, connect=connect, grace=timedelta(days=7), dry_run=False, log=log)
    ] == expected
    assert store.list_sizes(f"hls/movies/1/{OLD}") == {} and store.list_sizes("hls-work") == {}
    assert store.list_sizes(f"hls/movies/1/{NEW}") and store.list_sizes(f"hls/movies/3/{OLD}")  # played, and under way
    # within the grace period nothing goes, whatever references it
    publish(store, f"hls/movies/2/{OLD}")
    assert (
        sweep(store=store, settings=settings, connect=connect, grace=timedelta(days=10_000), dry_run=False, log=log)
        == []
    )
