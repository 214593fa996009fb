"""The per-movie DAG ``hls_convert_movie``: a movie of six chunks, in a wave of ``hls_migration`` on
a real Airflow, is encoded by six mapped chunk tasks of its movie's run and plays as if it had been
encoded whole; triggered alone, as a "Convert to HLS" button starts it, a second trigger for the
converted movie takes nothing and bad input fails alone; through ``airflow dags test`` (one movie
in-process, as the README shows) a dry run publishes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import m3u8
import pytest

from devenv import media
from devenv.catalog_seed import SeedMovie
from tests import hls_checks, hostile_media

pytestmark = [pytest.mark.services, pytest.mark.airflow]
MOVIE = 1
SECONDS = 12.5  # six 2 s segments and a half: six chunks of 2 s (the last one 2.5 s)
FPS = 30


@pytest.fixture(scope="module")
def six_chunk_pipeline(pipeline):
    pipeline.variables.update(hls_chunk_seconds="2", hls_segment_seconds="2")
    return pipeline


@pytest.fixture(scope="module")
def converted(six_chunk_pipeline, tmp_path_factory):
    pipeline = six_chunk_pipeline
    source = media.generate_movie(
        tmp_path_factory.mktemp("media") / "long.mp4", width=854, height=480, seconds=SECONDS, fps=FPS
    )
    pipeline.seed(
        movies=[SeedMovie(MOVIE, "Six chunks", source)],
    )
    return pipeline.run("hls_migration", {"movie_ids": [MOVIE]})


def test_six_chunks_are_encoded_by_six_mapped_tasks(six_chunk_pipeline, converted):
    pipeline = six_chunk_pipeline
    assert converted.state == "success", converted.output[-3000:]
    movie_run = f"{converted.run_id}__movie_{MOVIE}"
    instances = converted.cluster.task_instances("hls_convert_movie", movie_run)
    encodes = sorted((ti["map_index"], ti["state"]) for ti in instances if ti["task_id"] == "encode")
    assert encodes == [(i, "success") for i in range(6)]
    [(status, steps, map_index, ladder)] = pipeline.query(
        "SELECT status, steps, map_index, ladder FROM hls_conversions WHERE movie_id = %s", (MOVIE,)
    )
    assert status == "succeeded" and map_index == 0  # the movie's place in its wave
    assert [r["name"] for r in ladder if not r.get("source_copy")] == ["480p", "360p"]  # both from the chunk tasks
    assert sorted(name for name in steps if name.startswith("encode_")) == [f"encode_{i}" for i in range(6)]
    assert all("seconds" in steps[f"encode_{i}"] for i in range(6))


def test_the_stitched_set_plays_as_if_encoded_whole(six_chunk_pipeline, converted, tmp_path):
    pipeline = six_chunk_pipeline
    [(video_url,)] = pipeline.query("SELECT video_url FROM movies WHERE id = %s", (MOVIE,))
    assert re.search(rf"/hls/movies/{MOVIE}/[^/]+/master\.m3u8$", video_url)
    master = m3u8.loads(hls_checks.fetch(video_url).body.decode(), uri=video_url)
    assert master.playlists
    frame = 90000 // FPS
    for variant in master.playlists:
        media_url = urljoin(video_url, variant.uri)
        playlist = m3u8.loads(hls_checks.fetch(media_url).body.decode(), uri=media_url)
        folder = tmp_path / Path(variant.uri).parent
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.m3u8").write_text(playlist.dumps())
        for uri in [playlist.segment_map[0].uri] + [s.uri for s in playlist.segments]:
            (folder / uri).write_bytes(hls_checks.fetch_media(urljoin(media_url, uri)))
        frames = hls_checks.packets(folder / "index.m3u8", "v:0")
        # every frame of the source once, one frame duration apart across the five joins
        assert len(frames) == round(SECONDS * FPS), variant.uri
        assert [b[0] - a[0] for a, b in zip(frames, frames[1:])] == [frame] * (len(frames) - 1), variant.uri
        # cut where a whole encode cuts: 2 s segments on the grid, the movie's half second last
        durations = [s.duration for s in playlist.segments]
        assert durations == pytest.approx([2.0] * 6 + [0.5], abs=0.05), variant.uri


def test_a_second_trigger_for_a_converted_movie_takes_nothing(six_chunk_pipeline, converted):
    pipeline = six_chunk_pipeline
    again = pipeline.run("hls_convert_movie", {"movie_id": MOVIE})
    assert again.state == "success"
    assert "movie 1 not converted: missing, not an MP4, already converted without force" in again.output
    assert pipeline.query("SELECT count(*) FROM hls_conversions WHERE movie_id = %s", (MOVIE,)) == [(1,)]


def test_a_dry_run_probes_and_estimates_but_encodes_nothing(six_chunk_pipeline, converted):
    pipeline = six_chunk_pipeline
    url = f"{pipeline.public_base_url}/uploads/{MOVIE}/long.mp4"
    pipeline.query("INSERT INTO movies (id, title, slug, video_url) VALUES (2, 'Dry run', 'dry-run', %s)", (url,))
    result = pipeline.dags_test("hls_convert_movie", {"movie_id": 2, "dry_run": True})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "estimate: would convert 1 movie(s): [2]" in result.stdout + result.stderr
    assert pipeline.query("SELECT status FROM hls_conversions WHERE movie_id = 2") == [("dry_run",)]
    assert pipeline.query("SELECT video_url FROM movies WHERE id = 2") == [(url,)]
    assert pipeline.query("SELECT count(*) FROM hls_claims WHERE movie_id = 2") == [(0,)]
    assert pipeline.query("SELECT count(*) FROM hls_estimates") == [(0,)]  # the view shows waves' estimates only
    listed = pipeline.seaweedfs.client().list_objects_v2(Bucket=pipeline.bucket, Prefix="hls/movies/2/")
    assert listed.get("KeyCount", 0) == 0


def test_a_refused_movie_fails_its_run_without_holding_the_migration(six_chunk_pipeline, converted, tmp_path):
    pipeline = six_chunk_pipeline
    pipeline.seed(
        movies=[SeedMovie(3, "Text named mp4", hostile_media.make_refused("text", tmp_path))],
    )
    [(original,)] = pipeline.query("SELECT video_url FROM movies WHERE id = 3")
    assert pipeline.run("hls_convert_movie", {"movie_id": 3}).state == "failed"
    assert pipeline.query("SELECT status, error_class FROM hls_conversions WHERE movie_id = 3") == [
        ("failed", "not_video")
    ]
    assert pipeline.query("SELECT video_url FROM movies WHERE id = 3") == [(original,)]
    assert pipeline.query("SELECT count(*) FROM hls_hold") == [(0,)]  # one movie's refusal is not a wave's failure rate
