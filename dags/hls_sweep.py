"""Reclaim the storage of published sets and hand-offs that nothing can reach any more."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from hls_operators.maintenance_operators import SweepOperator
from hls_operators.settings import SWEEP_DAG_ID, dag_defaults

with DAG(
    dag_id=SWEEP_DAG_ID,
    description="Delete superseded HLS versions and what failed attempts uploaded, after a grace period",
    schedule=None,
    max_active_runs=1,
    **dag_defaults(retries=1),
    params={
        "dry_run": Param(True, type="boolean", title="Dry run", description="Only list what would go, with its bytes."),
        "grace_days": Param(
            None,
            type=["null", "number"],
            minimum=0,
            title="Grace period (days)",
            description="Keep anything younger than this (empty: the hls_sweep_grace_days setting).",
        ),
    },
) as dag:
    SweepOperator(task_id="sweep")
