"""Nightly conversion of MP4 movies to adaptive HLS, one mapped task group per movie.

One movie by hand is ``hls_convert_movie`` (its chunks without a ceiling); ``{"movie_ids": [42]}``
here converts chosen movies as a wave (trigger form, CLI or REST API).
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task_group
from hls_operators.conversion import movie_conversion
from hls_operators.run_operators import ApproveWaveOperator, FinishRunOperator, SelectMoviesOperator
from hls_operators.settings import DAG_ID, dag_defaults, dag_schedule, transcode_chunk_slots

# Airflow cannot map a task inside a mapped task group, so each movie gets a fixed number of chunk
# tasks; a short movie uses the first and skips the others (hls_convert_movie has no such ceiling).
CHUNK_SLOTS = transcode_chunk_slots()

with DAG(
    dag_id=DAG_ID,
    description="Convert progressive MP4 movies to adaptive HLS and point the catalog at them",
    schedule=dag_schedule(),
    max_active_runs=1,
    **dag_defaults(retries=2),
    params={
        "movie_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            title="Movie ids",
            description="Convert exactly these movies (empty: select the oldest unconverted ones).",
        ),
        "limit": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Wave size",
            description="How many movies to select (empty: the hls_wave_size setting).",
        ),
        "force": Param(
            False, type="boolean", title="Force", description="Re-convert movies that were already converted."
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Select and probe only; publish nothing. The finish task logs an estimate of output, CPU and cost.",
        ),
        "resume": Param(
            False,
            type="boolean",
            title="Resume",
            description="Lift the hold set when a wave failed more often than hls_max_failure_rate, without asking in Required Actions.",
        ),
    },
) as dag:
    approve = ApproveWaveOperator(task_id="approve_wave")
    claimed = SelectMoviesOperator(task_id="select_movies")
    approve >> claimed

    @task_group(group_id="convert")
    def convert(movie):
        movie_conversion(movie, chunk_slots=CHUNK_SLOTS)

    convert.expand(movie=claimed.output) >> FinishRunOperator(task_id="finish")
