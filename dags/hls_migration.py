"""Nightly conversion of MP4 movies to adaptive HLS: selects a wave and converts each movie in a
run of ``hls_convert_movie`` (as many chunk tasks as its length asks for), awaited deferred.

One movie by hand is ``hls_convert_movie`` alone; ``{"movie_ids": [42]}`` here converts chosen
movies as a wave (trigger form, CLI or REST API).
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from hls_operators.preflight import PreflightOperator
from hls_operators.run_operators import FinishRunOperator
from hls_operators.settings import DAG_ID, dag_defaults, dag_schedule
from hls_operators.wave_operators import ApproveWaveOperator, ConvertMovieRunOperator, SelectMoviesOperator

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
    preflight = PreflightOperator(task_id="preflight")
    approve = ApproveWaveOperator(task_id="approve_wave")
    claimed = SelectMoviesOperator(task_id="select_movies")
    # No retries and no time limit here: the movie's own tasks have both; a failed movie fails its
    # wave's task at once, and a movie waiting for its turn in the pool behind a long wave does not.
    convert = ConvertMovieRunOperator.partial(
        task_id="convert",
        retries=0,
        execution_timeout=None,
        map_index_template=ConvertMovieRunOperator.MAP_INDEX_TEMPLATE,
    ).expand(movie=claimed.output)
    (
        preflight
        >> approve
        >> claimed
        >> convert
        >> FinishRunOperator(task_id="finish", gates=[preflight.task_id, approve.task_id])
    )
