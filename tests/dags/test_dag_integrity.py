"""Every DAG imports cleanly, does no I/O at parse time and carries what operators of it expect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devenv import airflow_env
from hls_operators.settings import PIPELINE_DAG_IDS
from hls_operators.wave_operators import ConvertMovieRunOperator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow-home")
    # No connections or Variables: parsing must not need them.
    env = airflow_env.airflow_env(home, catalog_conn="{}", storage_conn="{}", variables={})
    for name in ("AIRFLOW_CONN_HLS_CATALOG", "AIRFLOW_CONN_HLS_STORAGE"):
        env.pop(name)
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("parse_dags.py")), str(REPO / "dags")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dags_import_without_errors_or_network(parsed):
    assert parsed["import_errors"] == {}
    assert set(parsed["dags"]) == {
        "hls_migration",
        "hls_convert_movie",
        "hls_rollback",
        "hls_sweep",
        "hls_retire_originals",
        "hls_cdn_warm_up",
    }
    assert set(parsed["dags"]) == set(PIPELINE_DAG_IDS)  # the operator's role covers every DAG


def test_every_dag_has_tags_owner_and_retries(parsed):
    for dag in parsed["dags"].values():
        assert dag["tags"] and dag["owners"] == ["video-platform"]
        assert max(dag["retries"]) >= 1
    # every task retries, but the wave's convert (it awaits a run whose own tasks retry) and the
    # preflights (what they find needs a person: the run fails at once instead of retrying)
    not_retried = {
        (dag_id, task)
        for dag_id, dag in parsed["dags"].items()
        for task, retries in dag["task_retries"].items()
        if not retries
    }
    assert not_retried == {("hls_migration", "convert"), ("hls_migration", "preflight")}


def test_every_task_that_works_has_a_time_limit(parsed):
    """A hang nothing inside a step catches (a stuck call into storage, a lock) ends the try, which
    is retried. Only the two waits have none: the approval ends at its own timeout, and a wave's
    convert at its movie's run, whose every task has the limit."""
    unlimited = {
        (dag_id, task_id)
        for dag_id, dag in parsed["dags"].items()
        for task_id, seconds in dag["execution_timeouts"].items()
        if seconds is None
    }
    assert unlimited == {("hls_migration", "approve_wave"), ("hls_migration", "convert")}
    limits = {seconds for dag in parsed["dags"].values() for seconds in dag["execution_timeouts"].values() if seconds}
    assert limits == {30 * 3600}


def test_migration_dag_contract(parsed):
    dag = parsed["dags"]["hls_migration"]
    assert dag["params"] == ["dry_run", "force", "limit", "movie_ids", "resume"]
    assert dag["schedule"] == "0 2 * * *" and dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["tasks"] == ["approve_wave", "convert", "finish", "preflight", "select_movies"]
    # one run of the per-movie DAG for each selected movie, awaited without holding a worker slot
    assert dag["mapped"] == ["convert"] and dag["operators"]["convert"] == "ConvertMovieRunOperator"
    convert = ConvertMovieRunOperator(task_id="convert", movie={"movie_id": 1})
    assert (convert.trigger_dag_id, convert.wait_for_completion, convert.deferrable) == (
        "hls_convert_movie",
        True,
        True,
    )
    assert dag["upstream"] == {
        "preflight": [],
        "approve_wave": ["preflight"],
        "select_movies": ["approve_wave"],
        "convert": ["select_movies"],
        "finish": ["convert"],
    }


def test_the_per_movie_dag_maps_its_chunk_encodes_without_a_ceiling(parsed):
    dag = parsed["dags"]["hls_convert_movie"]
    assert dag["params"] == ["dry_run", "force", "movie_id"] and dag["schedule"] is None
    assert dag["tasks"] == sorted(
        [
            "claim_movie",
            "probe",
            "chunks",
            "encode",
            "audio",
            "package",
            "thumbnails",
            "upload",
            "verify_and_flip",
            "record",
            "finish",
        ]
    )
    assert dag["mapped"] == ["encode"]
    upstream = dag["upstream"]
    assert upstream["claim_movie"] == []  # it runs the preflight itself when no wave started the run
    assert upstream["encode"] == ["chunks", "probe"] and upstream["chunks"] == ["probe"]
    # the probe's payload reaches every step; audio and thumbnails run beside the encodes
    assert upstream["package"] == ["audio", "encode", "probe"] and upstream["thumbnails"] == ["probe"]
    assert upstream["upload"] == ["package", "probe", "thumbnails"] and upstream["finish"] == ["record"]
    # record closes the attempt and releases the claim only once every step is done, including a
    # branch still running or retrying beside one that failed
    assert upstream["record"] == [
        "audio",
        "claim_movie",
        "encode",
        "package",
        "probe",
        "thumbnails",
        "upload",
        "verify_and_flip",
    ]


def test_rollback_dag_takes_movie_ids(parsed):
    assert parsed["dags"]["hls_rollback"]["params"] == ["movie_ids"]


def test_the_sweep_lists_before_it_deletes(parsed):
    dag = parsed["dags"]["hls_sweep"]
    assert dag["params"] == ["dry_run", "grace_days"] and dag["schedule"] is None and dag["tasks"] == ["sweep"]


def test_retiring_originals_is_a_dry_run_unless_said_otherwise(parsed):
    dag = parsed["dags"]["hls_retire_originals"]
    assert dag["params"] == ["dry_run", "movie_ids", "older_than_days"] and dag["schedule"] is None


def test_the_cdn_warm_up_runs_on_published_movies(parsed):
    dag = parsed["dags"]["hls_cdn_warm_up"]
    assert dag["tasks"] == ["warm_up"] and dag["schedule_assets"] == ["hls_movies_published"]


def test_airflow_loads_the_migration_view_as_its_only_plugin_file():
    """Airflow's plugin manager executes every .py file it finds under the plugins folder as a
    top-level module named after the file, in every process that loads plugins: a core/codecs.py
    once replaced Python's own codecs there, and each module of the package ran twice.
    plugins/.airflowignore leaves it migration_view.py; hls_operators is imported as a package."""
    from airflow._shared.module_loading import find_path_from_directory

    plugins = REPO / "plugins"
    found = sorted(Path(p).relative_to(plugins) for p in find_path_from_directory(plugins, ".airflowignore"))
    assert [p for p in found if p.suffix == ".py"] == [Path("migration_view.py")]
