"""The preflight on the session's Celery cluster (the LocalExecutor one has the longer queue of
tests): a wave whose pool, bucket or per-movie DAG is not ready,
or whose catalog does not answer, and a "Convert to HLS" run without its pool, fail their first
task on its first try, says what is wrong and the
command that mends it (task log and migration view), and claims nothing. Each fault is real: the
pool deleted and the DAG paused through the REST API, a storage key the server refuses, a catalog
port nothing listens on; each is put back afterwards, also when the test fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from devenv import media, services
from devenv.catalog_seed import SeedMovie
from hls_operators.edges import catalog
from hls_operators.settings import CONVERT_DAG_ID, TRANSCODE_POOL
from tests.conftest import AirflowRun

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.services, pytest.mark.airflow]
MOVIE = 1


@pytest.fixture(scope="module")
def seeded(pipeline, celery_airflow, tmp_path_factory):
    source = media.generate_movie(tmp_path_factory.mktemp("preflight") / "1.mp4", width=320, height=180, seconds=2)
    pipeline.seed(
        movies=[SeedMovie(MOVIE, "Waits for its preflight", source)],
    )
    conn = psycopg2.connect(pipeline.dsn)
    try:
        catalog.ensure_schema(conn)  # what a run whose catalog does not answer cannot do
    finally:
        conn.close()
    pipeline.variables["hls_tmp_dir"] = ""  # each Celery worker in its own temporary folder
    return pipeline


def task_states(run) -> dict[str, tuple[str, int]]:
    return {
        ti["task_id"]: (ti["state"], ti["try_number"]) for ti in run.cluster.task_instances("hls_migration", run.run_id)
    }


def events(run) -> str:
    """The task logs' messages, one a line (the logs are JSON lines, quotes escaped)."""
    return "\n".join(json.loads(line).get("event", "") for line in run.output.splitlines() if line.startswith("{"))


def assert_nothing_claimed(pipeline) -> None:
    assert pipeline.query("SELECT count(*) FROM hls_claims") == [(0,)]
    assert pipeline.query("SELECT count(*) FROM hls_conversions WHERE status <> 'dry_run'") == [(0,)]
    assert pipeline.query("SELECT video_url LIKE %s FROM movies WHERE id = %s", ("%.mp4", MOVIE)) == [(True,)]


def test_a_missing_pool_a_refused_bucket_and_a_paused_dag_fail_the_first_task_with_their_fixes(seeded, celery_airflow):
    pipeline = seeded
    storage = {**json.loads(pipeline.connections["hls_storage"]), "password": "not-the-storage-secret"}
    cluster = pipeline.airflow(celery_airflow, connections={"hls_storage": json.dumps(storage)})
    pool = cluster.request("GET", f"/api/v2/pools/{TRANSCODE_POOL}")
    cluster.request("DELETE", f"/api/v2/pools/{TRANSCODE_POOL}")
    cluster.request("PATCH", f"/api/v2/dags/{CONVERT_DAG_ID}", {"is_paused": True})
    try:
        # Triggered here, not through cluster.trigger, which unpauses the per-movie DAG.
        cluster.request("PATCH", "/api/v2/dags/hls_migration", {"is_paused": False})
        run_id = cluster.request(
            "POST", "/api/v2/dags/hls_migration/dagRuns", {"logical_date": None, "conf": {"movie_ids": [MOVIE]}}
        )
        run = AirflowRun(
            cluster,
            run_id["dag_run_id"],
            cluster.wait_for_run("hls_migration", run_id["dag_run_id"], timeout=180)["state"],
        )
        # "Convert to HLS" on its own: its claim_movie checks first (the per-movie DAG is unpaused for it)
        cluster.request("PATCH", f"/api/v2/dags/{CONVERT_DAG_ID}", {"is_paused": False})
        button_id = cluster.request(
            "POST", f"/api/v2/dags/{CONVERT_DAG_ID}/dagRuns", {"logical_date": None, "conf": {"movie_id": MOVIE}}
        )
        button = AirflowRun(
            cluster,
            button_id["dag_run_id"],
            cluster.wait_for_run(CONVERT_DAG_ID, button_id["dag_run_id"], timeout=180)["state"],
        )
    finally:
        # put back the way a deployment makes it (docker-compose's airflow-init)
        subprocess.run(
            [sys.executable, "-m", "hls_operators.pool_setup", str(pool["slots"])],
            env={
                **cluster.env,
                "PYTHONPATH": str(REPO / "plugins"),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # its airflow
            },
            check=True,
            capture_output=True,
        )
        cluster.request("PATCH", f"/api/v2/dags/{CONVERT_DAG_ID}", {"is_paused": False})

    assert run.state == "failed"
    states = task_states(run)
    assert states["preflight"] == ("failed", 1)  # not retried: it needs a person, not a minute
    assert (states["approve_wave"][0], states["select_movies"][0], states["finish"][0]) == (
        "upstream_failed",
        "upstream_failed",
        "failed",
    )
    output = events(run)
    assert (
        f"pool: the Airflow pool {TRANSCODE_POOL} does not exist, so no encode task would ever be scheduled. "
        f'Fix: airflow pools set {TRANSCODE_POOL} 2 "ffmpeg transcodes across all workers"' in output
    )
    assert (
        f"dag: {CONVERT_DAG_ID} is paused, so no movie of a wave would start. Fix: airflow dags unpause {CONVERT_DAG_ID}"
        in output
    )
    assert f"storage: bucket {pipeline.bucket} did not take a write and a delete under hls/movies/" in output
    # the tasks' failures, in the logs' error details
    assert "preflight found 3 problem(s); nothing was claimed" in run.output
    assert "one of preflight, approve_wave failed (see its log): this run converted nothing" in run.output
    assert button.state == "failed"
    states = {
        ti["task_id"]: (ti["state"], ti["try_number"]) for ti in cluster.task_instances(CONVERT_DAG_ID, button.run_id)
    }
    assert (states["claim_movie"], states["record"][0], states["finish"][0]) == (("failed", 1), "skipped", "failed")
    assert (
        f"Fix: airflow pools set {TRANSCODE_POOL} 2" in events(button) and "one of claim_movie failed" in button.output
    )
    assert_nothing_claimed(pipeline)
    page = cluster.page("/hls-migration/")
    assert (
        "id='preflight'" in page
        and f"<i>Fix:</i> airflow pools set {TRANSCODE_POOL} 2" in page
        and button.run_id in page
    )

    # Mended, the next run's preflight passes and the view says no more of it (a dry run: it claims nothing).
    dry = pipeline.run("hls_migration", {"movie_ids": [MOVIE], "dry_run": True}, cluster=celery_airflow)
    assert dry.state == "success", dry.output[-3000:]
    assert (
        "preflight: every check passed" in dry.output
        and f"pool {TRANSCODE_POOL}: {pool['slots']} slot(s)" in events(dry)
    )
    assert "id='preflight'" not in cluster.page("/hls-migration/")


def test_a_catalog_that_does_not_answer_and_a_setting_that_does_not_parse_are_both_said(seeded, celery_airflow):
    pipeline = seeded
    unanswered = {**json.loads(pipeline.connections["hls_catalog"]), "port": services.free_port()}
    run = pipeline.run(
        "hls_migration",
        {"movie_ids": [MOVIE]},
        timeout=180,
        cluster=celery_airflow,
        connections={"hls_catalog": json.dumps(unanswered)},
        variables={"hls_ladder": "1080:fast"},
    )
    assert run.state == "failed"
    assert task_states(run)["preflight"] == ("failed", 1)
    output = events(run)
    assert "catalog: connection hls_catalog does not answer: " in output and "AIRFLOW_CONN_HLS_CATALOG" in output
    assert "settings: ladder entry '1080:fast' is not SHORT_SIDE:KBPS. Fix: set or correct that Variable" in output
    assert "preflight found 2 problem(s)" in run.output
    assert_nothing_claimed(pipeline)
