"""A catalog of odd and hostile sources, converted in one run on the Celery cluster: every movie
ends in a classified outcome in the ledger, only correctly converted movies are flipped, and the
run carries on.

Of the refused kinds, one for each way a movie is refused (by the probe's reading, by its limits,
by a decode that stops halfway, disguised playlists that must read no local file, sources outside
what may be read); of the odd sources that convert, those that take another path through the
movie's run (no audio task, two audio renditions, a clip shorter than a segment, a portrait ladder,
a decoder other than H.264's). Each refused and each odd kind is asserted kind by kind in
tests/integration/test_media.py, by the same steps without a wave's cost per movie."""

from __future__ import annotations

import re

import pytest

from devenv import media, services
from devenv.catalog_seed import SeedMovie
from tests import hostile_media, loopback
from tests.hostile_media import REFUSED

pytestmark = [pytest.mark.services, pytest.mark.airflow]

HOSTILE_TITLE = "Robert'); DROP TABLE movies;-- $(rm -rf /) `id` ../../etc"
HOSTILE_SLUG = "../../etc/passwd; rm -rf / && echo $HOME"
CONVERTIBLE_IN_A_WAVE = ("hevc", "rotated", "tiny_clip", "two_audio_tracks", "video_only")
REFUSED_IN_A_WAVE = (
    "text",
    "moov_at_end_truncated",
    "truncated_faststart",
    "encrypted",
    "lying_duration",
    "hls_playlist",
    "ffconcat",
)
KEY = re.compile(r"^hls/movies/\d+/\d{8}T\d{6}Z-[0-9a-f]{6}/[\w./-]+$")


@pytest.fixture(scope="module")
def redirect_server():
    """A source server that redirects to the worker's own loopback: must be refused."""

    class Redirect(loopback.QuietHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{services.free_port()}/internal.mp4")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = loopback.serve(Redirect)
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def outcome(pipeline, celery_airflow, redirect_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    expected: dict[int, str] = {}
    movies = []
    for offset, kind in enumerate(CONVERTIBLE_IN_A_WAVE):
        movies.append(SeedMovie(100 + offset, kind, hostile_media.make_convertible(kind, folder)))
        expected[100 + offset] = "succeeded"
    for offset, kind in enumerate(REFUSED_IN_A_WAVE):
        movies.append(SeedMovie(200 + offset, kind, hostile_media.make_refused(kind, folder)))
        expected[200 + offset] = REFUSED[kind]
    movies.append(SeedMovie(300, "redirect to loopback", None, video_url=f"http://{redirect_server}/movie.mp4"))
    expected[300] = "source_forbidden"
    # Another bucket the pipeline's credentials read, named with a fragment so that it passes for an MP4.
    private = f"{pipeline.bucket}-private"
    services.create_bucket(pipeline.seaweedfs.client(), private)
    pipeline.seaweedfs.client().put_object(Bucket=private, Key="contracts/report.pdf", Body=b"%PDF-1.4 private")
    movies.append(SeedMovie(302, "another bucket", None, video_url=f"s3://{private}/contracts/report.pdf#.mp4"))
    expected[302] = "source_forbidden"
    hostile_named = media.generate_movie(folder / "named.mp4", width=320, height=180, seconds=2)
    movies.append(SeedMovie(301, HOSTILE_TITLE, hostile_named, slug=HOSTILE_SLUG))
    expected[301] = "succeeded"
    urls = pipeline.seed(
        movies=movies,
    )
    # On the Celery cluster, each worker in its own temporary folder; the redirect's first hop allowed.
    settings = {"hls_allowed_source_hosts": redirect_server, "hls_tmp_dir": ""}
    run = pipeline.run("hls_migration", {"limit": 100}, cluster=celery_airflow, variables=settings)
    # every refusal is bad input: a report for the catalog's owners, no reason to hold or to go red
    assert run.state == "success", run.output[-3000:]
    refused = len(REFUSED_IN_A_WAVE) + 2
    assert f"{refused} movie(s) refused as bad input" in run.output and run.output.count("  refused: movie ") == refused
    assert pipeline.query("SELECT count(*) FROM hls_hold") == [(0,)]
    return expected, urls


def test_every_movie_ends_in_its_expected_outcome(pipeline, outcome):
    expected, _urls = outcome
    rows = pipeline.query(
        """SELECT DISTINCT ON (movie_id) movie_id, status, error_class FROM hls_conversions
           ORDER BY movie_id, id DESC"""
    )
    got = {movie_id: status if status == "succeeded" else error_class for movie_id, status, error_class in rows}
    assert got == expected
    assert len(expected) >= 15


def test_only_converted_movies_are_flipped(pipeline, outcome):
    expected, urls = outcome
    current = dict(pipeline.query("SELECT id, video_url FROM movies"))
    for movie_id, result in expected.items():
        if result == "succeeded":
            assert current[movie_id].startswith(f"{pipeline.public_base_url}/hls/movies/{movie_id}/"), movie_id
        else:
            assert current[movie_id] == urls[movie_id], movie_id


def test_hostile_titles_and_slugs_reach_no_key_path_or_shell(pipeline, outcome):
    assert pipeline.query("SELECT title, slug FROM movies WHERE id = 301") == [(HOSTILE_TITLE, HOSTILE_SLUG)]
    keys = []
    for page in (
        pipeline.seaweedfs.client().get_paginator("list_objects_v2").paginate(Bucket=pipeline.bucket, Prefix="hls/")
    ):
        keys += [item["Key"] for item in page.get("Contents", [])]
    assert keys and all(KEY.match(key) for key in keys), [k for k in keys if not KEY.match(k)][:5]


def test_no_local_file_was_read_through_a_disguised_playlist(pipeline, outcome):
    messages = " ".join(row[0] or "" for row in pipeline.query("SELECT error_message FROM hls_conversions"))
    assert "root:x:0:0" not in messages
    listed = pipeline.seaweedfs.client().list_objects_v2(Bucket=pipeline.bucket).get("Contents", [])
    assert listed and not any(item["Key"].endswith("passwd") for item in listed)


def test_every_movie_is_released_and_its_attempt_closed(pipeline, outcome):
    # A refused movie's other steps may still be queued when its first step fails: none of them
    # may start after the movie's attempt was closed and take its claim again.
    assert pipeline.query("SELECT movie_id, run_id FROM hls_claims") == []
    assert pipeline.query("SELECT movie_id FROM hls_conversions WHERE status = 'running'") == []
