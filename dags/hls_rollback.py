"""Roll movies back from HLS to their original MP4 (the HLS objects stay in storage)."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from hls_operators.maintenance_operators import RollbackOperator
from hls_operators.settings import ROLLBACK_DAG_ID, dag_defaults

with DAG(
    dag_id=ROLLBACK_DAG_ID,
    description="Point video_url back at the original MP4 for the given movies",
    schedule=None,
    **dag_defaults(retries=1),
    params={
        "movie_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            title="Movie ids",
            description="Movies whose video_url goes back to the MP4.",
        ),
    },
) as dag:
    RollbackOperator(task_id="roll_back")
