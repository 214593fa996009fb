"""Roll movies back from HLS to their original MP4 (the HLS objects stay in storage)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param
from hls_operators.run_operators import RollbackOperator
from hls_operators.settings import ROLLBACK_DAG_ID, retry_delay_seconds

with DAG(
    dag_id=ROLLBACK_DAG_ID,
    description="Point video_url back at the original MP4 for the given movies",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["hls", "video"],
    default_args={"owner": "video-platform", "retries": 1, "retry_delay": timedelta(seconds=retry_delay_seconds())},
    params={
        "movie_ids": Param(
            [], type="array", items={"type": "integer"},
            title="Movie ids", description="Movies whose video_url goes back to the MP4.",
        ),  # fmt: skip
    },
) as dag:
    RollbackOperator(task_id="roll_back")
