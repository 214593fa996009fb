"""The pipeline on Airflow's CeleryExecutor: two workers with their own hostnames and temporary
folders, triggered and watched through the REST API v2, as a production deployment runs it."""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from devenv import airflow_cluster, media
from devenv.catalog_seed import SeedMovie
from hls_operators.edges.handoff import WORKER_CACHE_DIR
from hls_operators.settings import CONVERT_DAG_ID, PUBLISHED_ASSET_NAME
from hls_operators.wave_operators import movie_run_id
from tests import hls_checks, hostile_media

pytestmark = [pytest.mark.services, pytest.mark.airflow]

REPO = Path(__file__).resolve().parents[2]
WORKERS = airflow_cluster.CELERY_WORKERS
MOVIES = [1, 2, 3, 4]


@pytest.fixture(scope="module")
def cluster(pipeline, celery_airflow):
    """The session's Celery cluster pointed at this module's catalog and bucket; each worker works
    in its own temporary folder, and a movie over 12 s is encoded by several chunk tasks."""
    yield pipeline.airflow(celery_airflow, variables={"hls_tmp_dir": "", "hls_chunk_seconds": "12"})
    celery_airflow.request("PATCH", "/api/v2/dags/hls_cdn_warm_up", {"is_paused": True})  # unpaused below


@pytest.fixture(scope="module")
def finished_run(pipeline, cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("celery-media")
    movies = [
        SeedMovie(
            movie_id,
            f"Distributed {movie_id}",
            media.generate_movie(folder / f"{movie_id}.mp4", width=640, height=360, seconds=4, audio=movie_id % 2 == 1),
        )
        for movie_id in MOVIES
    ]
    pipeline.seed(
        movies=movies,
    )
    cluster.request("PATCH", "/api/v2/dags/hls_cdn_warm_up", {"is_paused": False})  # it runs on what is published
    return cluster.run_dag("hls_migration", {"movie_ids": MOVIES})


def test_every_movie_is_converted_and_verified(pipeline, finished_run):
    assert finished_run["state"] == "success"
    rows = pipeline.query(
        "SELECT movie_id, status, steps ? 'verify_and_flip' FROM hls_conversions WHERE run_id = %s ORDER BY movie_id",
        (finished_run["dag_run_id"],),
    )
    assert rows == [(movie_id, "succeeded", True) for movie_id in MOVIES]
    urls = dict(pipeline.query("SELECT id, video_url FROM movies"))
    assert all(urls[movie_id].endswith("/master.m3u8") for movie_id in MOVIES)


def movie_tasks(cluster, wave_run_id: str, movie_id: int) -> list[dict]:
    """The task instances of a wave's movie: those of its run of the per-movie DAG."""
    return cluster.task_instances(CONVERT_DAG_ID, movie_run_id(wave_run_id, movie_id))


def test_work_is_spread_over_both_workers(cluster, finished_run):
    wave = cluster.task_instances("hls_migration", finished_run["dag_run_id"])
    assert all(ti["state"] == "success" for ti in wave)
    per_movie = {movie_id: movie_tasks(cluster, finished_run["dag_run_id"], movie_id) for movie_id in MOVIES}
    for movie_id, instances in per_movie.items():
        audio = next(ti["state"] for ti in instances if ti["task_id"] == "audio")
        assert audio == ("success" if movie_id % 2 else "skipped")  # movies 2 and 4 are silent
        assert all(ti["state"] == "success" for ti in instances if ti["task_id"] != "audio")
        assert [ti["map_index"] for ti in instances if ti["task_id"] == "encode"] == [0]  # 4 s movies: one chunk
    every = wave + [ti for instances in per_movie.values() for ti in instances]
    assert {ti["hostname"] for ti in every} == set(WORKERS)
    # Steps hand off through storage, not local disk: one movie's steps ran on different machines.
    assert any(len({ti["hostname"] for ti in instances}) > 1 for instances in per_movie.values())


def test_transcodes_run_in_their_pool(cluster, finished_run):
    instances = movie_tasks(cluster, finished_run["dag_run_id"], MOVIES[0])
    pools = {ti["task_id"]: ti["pool"] for ti in instances}
    assert pools["encode"] == "hls_transcode"
    assert pools["package"] == "default_pool"
    assert pools["upload"] == "default_pool"


def test_workers_leave_no_temporary_files(cluster, finished_run):
    for name in WORKERS:
        leftovers = cluster.workers[name].iterdir()
        assert [p.name for p in leftovers if p.name.startswith("hls-") and p.name != WORKER_CACHE_DIR] == []


def test_each_published_movie_is_an_asset_event_and_the_warm_up_warms_the_events_it_gets(cluster, finished_run):
    """Every published movie updates the hls_movies_published Asset (movie id, master URL), and each
    run of the downstream warm-up DAG, started by the scheduler, warms exactly the movies of the
    events it received. When an event starts a run is the scheduler's: one committed while it
    creates the run for the event before waits for the next event (apache/airflow#62501, #70972),
    so the test waits for every movie's event, not for a run of every movie's own."""
    deadline = time.monotonic() + 300
    while True:
        listed = cluster.listing("/api/v2/assets/events", "asset_events")
        events = [event for event in listed if event["name"] == PUBLISHED_ASSET_NAME]
        runs = cluster.listing("/api/v2/dags/hls_cdn_warm_up/dagRuns", "dag_runs")
        published = {event["extra"]["movie_id"] for event in events}
        if set(MOVIES) <= published and runs and all(run["state"] in ("success", "failed") for run in runs):
            break
        assert time.monotonic() < deadline, (
            f"events of {sorted(published)} of {MOVIES}; runs {[r['state'] for r in runs]}"
        )
        time.sleep(3)
    assert all(event["extra"]["master_url"].endswith("/master.m3u8") for event in events)
    for run in runs:
        assert run["state"] == "success" and run["run_type"] == "asset_triggered", run
        path = f"/api/v2/dags/hls_cdn_warm_up/dagRuns/{quote(run['dag_run_id'], safe='')}"
        received = cluster.request("GET", f"{path}/upstreamAssetEvents")["asset_events"]
        warmed = cluster.request("GET", f"{path}/taskInstances/warm_up/xcomEntries/return_value")["value"]
        assert sorted(warmed) == sorted(event["extra"]["movie_id"] for event in received) != []


def test_the_migration_view_is_served_by_the_api_server(pipeline, cluster, finished_run, artifacts, tmp_path):
    """The plugin's page over HTTP from the running api-server: it needs a user, and it shows what
    the ledger holds, including a dry run's refusals and estimate. A screenshot is kept."""
    pipeline.seed(
        movies=[
            SeedMovie(5, "Text named mp4", hostile_media.make_refused("text", tmp_path)),
            SeedMovie(6, "Waiting", media.generate_movie(tmp_path / "6.mp4", width=640, height=360, seconds=3)),
        ],
    )
    dry_run = cluster.run_dag("hls_migration", {"movie_ids": [5, 6], "dry_run": True})

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{cluster.api}/hls-migration/", timeout=30)
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{cluster.api}/hls-migration/", headers={"Authorization": f"Bearer {cluster.token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
        page = response.read().decode()

    [(converted,)] = pipeline.query(
        "SELECT count(*) FROM movies WHERE video_url LIKE %s", (f"{pipeline.public_base_url}/hls/movies/%/master.m3u8",)
    )
    assert converted == len(MOVIES)
    assert re.search(rf"id='total-converted'>converted<b>{converted}</b>", page)
    # the dry run converted nothing; the text file it refused is a report, no longer to convert
    assert re.search(r"id='total-remaining'>remaining<b>1</b>", page) and re.search(
        r"id='total-refused'>refused<b>1</b>", page
    )
    assert "<td>5</td><td>Text named mp4</td><td>not_video</td><td>not an MP4/MOV file: " in page
    assert "No movie is failing." in page
    wave = quote(finished_run["dag_run_id"], safe="")
    assert re.search(
        rf"id='eta-basis'>ETA at the pace of wave <a target='_top' href='/dags/hls_migration/runs/{re.escape(wave)}'>"
        rf"[^<]+</a>: {len(MOVIES)} movies in ",
        page,
    )
    assert "would convert 1 movie(s): [6]" in page and "not_video: [5]" in page
    assert f"/dags/hls_migration/runs/{quote(finished_run['dag_run_id'], safe='')}" in page
    assert quote(dry_run["dag_run_id"], safe="") in page
    # each conversion's languages: the odd movies have one untagged audio track, the even ones none
    assert "<td>audio Audio 1 (default)</td>" in page and "<td>no audio</td>" in page
    thumbnails = re.findall(r"<img class='thumb' src='([^']+)'", page)
    assert len(thumbnails) == len(MOVIES)
    assert all(hls_checks.fetch(html.unescape(url)).content_type == "image/jpeg" for url in thumbnails)

    # the refused movies as CSV, one REST call, behind the same permission
    csv_url = f"{cluster.api}/hls-migration/refused.csv"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(csv_url, timeout=30)
    assert refused.value.code == 401
    authorized = {"Authorization": f"Bearer {cluster.token}"}
    with urllib.request.urlopen(urllib.request.Request(csv_url, headers=authorized), timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.read().decode())))
    assert rows[0][:3] == ["movie_id", "title", "error_class"] and [row[:3] for row in rows[1:]] == [
        ["5", "Text named mp4", "not_video"]
    ]

    # the application's status endpoint: behind the same permission, one movie's row as JSON
    movie_url = f"{cluster.api}/hls-migration/api/movies/{MOVIES[0]}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(movie_url, timeout=30)
    assert refused.value.code == 401
    authorized = {"Authorization": f"Bearer {cluster.token}"}
    with urllib.request.urlopen(urllib.request.Request(movie_url, headers=authorized), timeout=30) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        movie = json.loads(response.read())
    [(video_url,)] = pipeline.query("SELECT video_url FROM movies WHERE id = %s", (MOVIES[0],))
    assert (movie["movie_id"], movie["state"], movie["progress"], movie["master_url"]) == (
        MOVIES[0],
        "ready",
        100,
        video_url,
    )
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(
            urllib.request.Request(f"{cluster.api}/hls-migration/api/movies/999999", headers=authorized), timeout=30
        )
    assert unknown.value.code == 404

    plugins = cluster.request("GET", "/api/v2/plugins")["plugins"]
    [view] = [p for p in plugins if p["name"] == "hls_migration_view"]
    assert view["external_views"][0]["href"] == "/hls-migration/"

    screenshot = artifacts / "migration-view.png"
    shot = subprocess.run(
        [
            "node",
            str(REPO / "player" / "screenshot.mjs"),
            f"{cluster.api}/hls-migration/",
            str(screenshot),
            cluster.token,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    rendered = json.loads(shot.stdout)
    assert shot.returncode == 0 and rendered["status"] == 200, shot.stderr
    assert rendered["images"] == [True] * len(MOVIES)  # every thumbnail loaded in the browser
    assert screenshot.stat().st_size > 20_000


def http_status(call) -> int:
    """The HTTP status of a REST call that may be refused."""
    try:
        call()
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def test_roles_decide_who_may_trigger_and_who_may_only_read(pipeline, cluster, finished_run):
    """The FAB auth manager with the roles init_auth.py creates: anonymous requests get 401; a
    viewer reads the DAG, the migration view and the status endpoint but may not trigger, clear or
    change anything; the migration operator triggers and clears the pipeline's DAGs, not Airflow's
    settings."""
    operator = cluster.login(cluster.fab_users["HLS_OPERATOR_USER"], cluster.fab_users["HLS_OPERATOR_PASSWORD"])
    viewer = cluster.login(cluster.fab_users["HLS_VIEWER_USER"], cluster.fab_users["HLS_VIEWER_PASSWORD"])
    with pytest.raises(urllib.error.HTTPError) as wrong_password:
        cluster.login(cluster.fab_users["HLS_VIEWER_USER"], "not-the-password")
    assert wrong_password.value.code == 401

    run_id = finished_run["dag_run_id"]
    reads = {
        "the DAG": lambda token: cluster.request("GET", "/api/v2/dags/hls_migration", token=token),
        "its runs": lambda token: cluster.request(
            "GET", f"/api/v2/dags/hls_migration/dagRuns/{quote(run_id)}", token=token
        ),
        "the view": lambda token: urllib.request.urlopen(
            urllib.request.Request(
                f"{cluster.api}/hls-migration/", headers={"Authorization": f"Bearer {token}"} if token else {}
            ),
            timeout=60,
        ),
        "a movie's status": lambda token: urllib.request.urlopen(
            urllib.request.Request(
                f"{cluster.api}/hls-migration/api/movies/{MOVIES[0]}",
                headers={"Authorization": f"Bearer {token}"} if token else {},
            ),
            timeout=30,
        ),
    }
    for what, read in reads.items():
        assert http_status(functools.partial(read, "")) == 401, what
        assert http_status(functools.partial(read, viewer)) == 200, what
        assert http_status(functools.partial(read, operator)) == 200, what

    trigger = {"logical_date": None, "conf": {"dry_run": True}}
    clear = {"dry_run": True, "task_ids": ["finish"], "dag_run_id": run_id}
    assert http_status(lambda: cluster.request("POST", "/api/v2/dags/hls_sweep/dagRuns", trigger, token="")) == 401
    assert http_status(lambda: cluster.request("POST", "/api/v2/dags/hls_sweep/dagRuns", trigger, token=viewer)) == 403
    assert (
        http_status(
            lambda: cluster.request("POST", "/api/v2/dags/hls_migration/clearTaskInstances", clear, token=viewer)
        )
        == 403
    )
    assert (
        http_status(lambda: cluster.request("PATCH", "/api/v2/dags/hls_sweep", {"is_paused": False}, token=viewer))
        == 403
    )

    assert (
        http_status(
            lambda: cluster.request("POST", "/api/v2/dags/hls_migration/clearTaskInstances", clear, token=operator)
        )
        == 200
    )
    assert (
        http_status(
            lambda: cluster.request("POST", "/api/v2/variables", {"key": "hls_wave_size", "value": "1"}, token=operator)
        )
        == 403
    )
    cluster.request("PATCH", "/api/v2/dags/hls_sweep", {"is_paused": False}, token=operator)
    swept = cluster.request("POST", "/api/v2/dags/hls_sweep/dagRuns", trigger, token=operator)
    assert cluster.wait_for_run("hls_sweep", swept["dag_run_id"], timeout=300)["state"] == "success"


def test_one_long_movie_gets_a_chunk_task_per_chunk_from_the_per_movie_dag(pipeline, cluster, finished_run, tmp_path):
    """``hls_convert_movie`` on the Celery workers, triggered by the migration operator (its role
    covers the per-movie DAG): a 60 s movie is five 12 s chunks, encoded by five mapped tasks of the
    transcode pool, more than the wave's four slots; the run succeeds and the catalog points at the set."""
    movie_id = 20
    source = media.generate_movie(tmp_path / "long.mp4", width=640, height=360, seconds=60)
    pipeline.seed(
        movies=[SeedMovie(movie_id, "Five chunks", source)],
    )
    operator = cluster.login(cluster.fab_users["HLS_OPERATOR_USER"], cluster.fab_users["HLS_OPERATOR_PASSWORD"])
    cluster.request("PATCH", "/api/v2/dags/hls_convert_movie", {"is_paused": False}, token=operator)
    trigger = {"logical_date": None, "conf": {"movie_id": movie_id}}
    run_id = cluster.request("POST", "/api/v2/dags/hls_convert_movie/dagRuns", trigger, token=operator)["dag_run_id"]
    assert cluster.wait_for_run("hls_convert_movie", run_id)["state"] == "success"
    encodes = [ti for ti in cluster.task_instances("hls_convert_movie", run_id) if ti["task_id"] == "encode"]
    assert sorted(ti["map_index"] for ti in encodes) == [0, 1, 2, 3, 4]
    assert {(ti["state"], ti["pool"]) for ti in encodes} == {("success", "hls_transcode")}
    assert {ti["hostname"] for ti in encodes} <= set(WORKERS)
    [(status, steps)] = pipeline.query(
        "SELECT status, steps FROM hls_conversions WHERE dag_id = 'hls_convert_movie' AND run_id = %s", (run_id,)
    )
    assert status == "succeeded" and sorted(n for n in steps if n.startswith("encode_")) == [
        f"encode_{i}" for i in range(5)
    ]
    [(video_url,)] = pipeline.query("SELECT video_url FROM movies WHERE id = %s", (movie_id,))
    assert video_url.endswith("/master.m3u8")


def test_a_held_migration_asks_for_approval_in_required_actions(pipeline, cluster, tmp_path):
    """A wave that fails too often (an upload not there yet is a failure to fetch, not bad input)
    holds the migration; the next run that selects movies itself asks in Airflow's Required Actions,
    with the failures by class, and the migration view says who waits. Reject takes nothing and
    keeps the hold; no answer in time does too, and fails the run; Approve lifts it and the run
    takes its wave."""
    late = SeedMovie(7, "Upload on its way", None, video_url=f"{pipeline.public_base_url}/uploads/7/late.mp4")
    next_in_line = SeedMovie(
        8, "Next in line", media.generate_movie(tmp_path / "8.mp4", width=320, height=180, seconds=2)
    )
    pipeline.seed(
        movies=[late, next_in_line],
    )
    failed_wave = cluster.run_dag("hls_migration", {"movie_ids": [7]})
    assert failed_wave["state"] == "failed"
    [(held_by, reason)] = pipeline.query("SELECT run_id, reason FROM hls_hold")
    assert held_by == failed_wave["dag_run_id"] and reason.endswith("source_unreachable x1")

    operator = cluster.login(cluster.fab_users["HLS_OPERATOR_USER"], cluster.fab_users["HLS_OPERATOR_PASSWORD"])
    viewer = cluster.login(cluster.fab_users["HLS_VIEWER_USER"], cluster.fab_users["HLS_VIEWER_PASSWORD"])

    def held_run(answer: str | None, limit: int = 1) -> tuple[dict, dict, dict]:
        run_id = cluster.trigger("hls_migration", {"limit": limit})
        cluster.wait_for_task("hls_migration", run_id, "approve_wave", "awaiting_input")
        asked = cluster.required_action("hls_migration", run_id, "approve_wave")
        waiting = re.search(
            r"<b id='asking'>Run <a [^>]+>([^<]+)</a> has waited \d+ s for an answer</b>",
            cluster.page("/hls-migration/"),
        )
        assert waiting and html.unescape(waiting.group(1)) == run_id
        if answer is not None:
            refused = http_status(
                lambda: cluster.respond("hls_migration", run_id, "approve_wave", answer, token=viewer)
            )
            assert refused == 403  # a viewer sees the question but may not answer it
            cluster.respond("hls_migration", run_id, "approve_wave", answer, token=operator)
        run = cluster.wait_for_run("hls_migration", run_id, timeout=300)
        answered = cluster.required_action("hls_migration", run_id, "approve_wave")
        return run, asked, answered

    run, asked, answered = held_run("Reject")
    assert asked["options"] == ["Approve", "Reject"] and asked["defaults"] == ["Reject"]
    assert f"Run `{held_by}` put the migration on hold" in asked["body"]
    assert "| source_unreachable | 7 | " in asked["body"], asked["body"]
    assert (
        answered["chosen_options"] == ["Reject"]
        and answered["responded_by_user"]["name"] == cluster.fab_users["HLS_OPERATOR_USER"]
    )
    states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances("hls_migration", run["dag_run_id"])}
    assert run["state"] == "success"
    assert (states["approve_wave"], states["select_movies"], states["finish"]) == ("success", "skipped", "skipped")
    assert pipeline.query("SELECT run_id FROM hls_hold") == [(held_by,)]
    page = cluster.page("/hls-migration/")
    assert "id='hold'" in page and "id='asking'" not in page  # nobody waits any more

    # Nobody answers: after hls_approval_timeout_hours the run fails (red: nobody looked), holding on.
    cluster.request("POST", "/api/v2/variables", {"key": "hls_approval_timeout_hours", "value": str(20 / 3600)})
    try:
        run, _asked, answered = held_run(None)
    finally:
        cluster.request("DELETE", "/api/v2/variables/hls_approval_timeout_hours")
    assert (
        run["state"] == "failed" and answered["chosen_options"] == ["Reject"] and answered["responded_by_user"] is None
    )
    states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances("hls_migration", run["dag_run_id"])}
    assert (states["approve_wave"], states["select_movies"], states["finish"]) == (
        "failed",
        "upstream_failed",
        "failed",
    )
    assert "nobody answered within hls_approval_timeout_hours" in cluster.task_logs(run["dag_run_id"])
    assert pipeline.query("SELECT run_id FROM hls_hold") == [(held_by,)]
    assert "id='asking'" not in cluster.page("/hls-migration/")

    # The upload arrives; approved, the run takes its wave of two, the oldest unconverted movies:
    # 7 and 8, or 6 (a movie this module's dry run left on its MP4, older than both) and 7.
    store = pipeline.seaweedfs.client()
    store.copy_object(
        Bucket=pipeline.bucket,
        Key="uploads/7/late.mp4",
        CopySource={"Bucket": pipeline.bucket, "Key": "uploads/8/8.mp4"},
    )
    waiting = [
        movie_id
        for (movie_id,) in pipeline.query(
            "SELECT id FROM movies WHERE id IN (6, 7, 8) AND video_url LIKE %s ORDER BY created_at, id", ("%.mp4",)
        )
    ]
    run, _asked, answered = held_run("Approve", limit=2)
    assert run["state"] == "success" and answered["chosen_options"] == ["Approve"]
    assert pipeline.query("SELECT count(*) FROM hls_hold") == [(0,)]
    converted = pipeline.query(
        "SELECT movie_id FROM hls_conversions WHERE run_id = %s AND status = 'succeeded' ORDER BY movie_id",
        (run["dag_run_id"],),
    )
    assert [movie_id for (movie_id,) in converted] == sorted(waiting[:2]) and 7 in waiting[:2]


def test_a_worker_killed_mid_transcode_is_retried_elsewhere_and_converts_once(pipeline, cluster, tmp_path):
    """Runs last in this module: it kills one of the two workers while a chunk's ffmpeg runs on it,
    and starts it again at the end."""
    source = media.generate_movie(tmp_path / "long.mp4", width=640, height=360, seconds=30, noise=True)
    pipeline.seed(
        movies=[SeedMovie(10, "Killed mid-transcode", source)],
    )
    run_id = cluster.trigger("hls_migration", {"movie_ids": [10]})

    deadline = time.monotonic() + 300
    while not (encoding := [name for name in WORKERS if cluster.ffmpeg_pids(name, step="encode_")]):
        assert time.monotonic() < deadline, "no chunk was ever encoded"
        time.sleep(0.1)
    victim = encoding[0]
    cluster.kill_worker(victim)
    try:
        run = cluster.wait_for_run("hls_migration", run_id, timeout=600)
    finally:
        cluster.start_worker(victim, cluster.workers[victim])
    assert run["state"] == "success"
    encodes = sorted(
        (ti for ti in movie_tasks(cluster, run_id, 10) if ti["task_id"] == "encode"), key=lambda ti: ti["map_index"]
    )
    retried = [ti for ti in encodes if ti["try_number"] > 1]
    assert retried and all(ti["hostname"] != victim for ti in retried)
    # 30 s in chunks of 12 s: three chunk tasks on any worker
    assert [ti["state"] for ti in encodes] == ["success"] * 3

    attempts = pipeline.query(
        "SELECT status, error_class, error_message FROM hls_conversions WHERE movie_id = 10 ORDER BY id"
    )
    # The machine's processes die in no set order. When the task goes first, whichever of the victim's
    # tasks is retried first closes the attempt (a chunk encode, or the audio or thumbnails task when it had
    # been running on the same worker); when its ffmpeg goes first, the task records that, and lives
    # just long enough to. Either way the attempt is a lost worker's, and the movie converts once.
    assert attempts[0][:2] == ("failed", "worker_lost")
    assert re.fullmatch(
        r"(encode_\d|audio|thumbnails) try 1 ended without reporting \(worker lost\)|movie 10 .* was killed by SIGKILL \(.*\)",
        attempts[0][2],
    )
    assert [a[0] for a in attempts].count("succeeded") == 1
    master_url = pipeline.query("SELECT video_url FROM movies WHERE id = 10")[0][0]
    _master, _response, renditions = hls_checks.load_set(master_url, tmp_path / "published")
    assert all(r.segment_sizes and all(r.segment_sizes) for r in renditions)
