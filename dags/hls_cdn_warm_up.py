"""Warm the CDN for every movie the migration publishes: scheduled on the hls_movies_published Asset."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from hls_operators.operators import MOVIES_PUBLISHED
from hls_operators.run_operators import WarmUpOperator
from hls_operators.settings import WARM_UP_DAG_ID, retry_delay_seconds

with DAG(
    dag_id=WARM_UP_DAG_ID,
    description="Request each newly published movie's playlists and first segments through the CDN",
    schedule=[MOVIES_PUBLISHED],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["hls", "video"],
    default_args={"owner": "video-platform", "retries": 2, "retry_delay": timedelta(seconds=retry_delay_seconds())},
) as dag:
    WarmUpOperator(task_id="warm_up")
