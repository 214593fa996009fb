"""The migration's last step: archive and delete the MP4s of movies that have proven themselves on HLS."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from hls_operators.maintenance_operators import RetireOriginalsOperator
from hls_operators.settings import RETIRE_DAG_ID, dag_defaults

with DAG(
    dag_id=RETIRE_DAG_ID,
    description="Archive, check and delete the original MP4s of movies that have played from HLS for a grace period",
    schedule=None,
    max_active_runs=1,
    **dag_defaults(retries=1),
    params={
        "movie_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            title="Movie ids",
            description="Retire exactly these movies' originals, if they qualify (empty: every movie that does).",
        ),
        "older_than_days": Param(
            None,
            type=["null", "number"],
            minimum=0,
            title="Played from HLS for (days)",
            description="How long a movie must have played from its published master (empty: hls_retire_grace_days).",
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description="Only list the movies and the bytes that would be reclaimed.",
        ),
    },
) as dag:
    RetireOriginalsOperator(task_id="retire_originals")
