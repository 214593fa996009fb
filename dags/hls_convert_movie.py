"""One movie converted with one mapped encode task per chunk: as many workers as its length asks for.

What a "Convert to HLS" button triggers: ``{"movie_id": 42}`` (trigger form, CLI or REST API), and
what ``hls_migration`` starts for each movie of a wave (the conf then also names the wave).
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from hls_operators.conversion import movie_conversion
from hls_operators.run_operators import ClaimMovieOperator, FinishRunOperator
from hls_operators.settings import CONVERT_DAG_ID, dag_defaults

with DAG(
    dag_id=CONVERT_DAG_ID,
    description="Convert one MP4 movie to adaptive HLS, its chunks encoded on any number of workers",
    schedule=None,
    **dag_defaults(retries=2),
    params={
        "movie_id": Param(type="integer", minimum=1, title="Movie id", description="The movie to convert."),
        "force": Param(
            False, type="boolean", title="Force", description="Re-convert a movie that was already converted."
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Probe only; publish nothing. The finish task logs an estimate of output, CPU and cost.",
        ),
    },
) as dag:
    claim = ClaimMovieOperator(task_id="claim_movie")  # the preflight first, when no wave started the run
    movie_conversion(claim.output) >> FinishRunOperator(task_id="finish", gates=[claim.task_id], wave=False)
