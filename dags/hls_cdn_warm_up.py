"""Warm the CDN for every movie the migration publishes: scheduled on the hls_movies_published Asset."""

from __future__ import annotations

from airflow.sdk import DAG

from hls_operators.maintenance_operators import WarmUpOperator
from hls_operators.operators import MOVIES_PUBLISHED
from hls_operators.settings import WARM_UP_DAG_ID, dag_defaults

with DAG(
    dag_id=WARM_UP_DAG_ID,
    description="Request each newly published movie's playlists and first segments through the CDN",
    schedule=[MOVIES_PUBLISHED],
    **dag_defaults(retries=2),
) as dag:
    WarmUpOperator(task_id="warm_up")
