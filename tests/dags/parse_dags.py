"""Parse dags/ the way the dag-processor does, with every network connection refused, and print
what the integrity tests check as JSON. Run in a subprocess with an isolated AIRFLOW_HOME."""

from __future__ import annotations

import json
import socket
import sys
import time


def refuse(*_args, **_kwargs):
    raise RuntimeError("a DAG file opened a network connection at parse time")


socket.socket.connect = refuse  # PostgreSQL, S3 and HTTP all go through here
socket.create_connection = refuse

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

started = time.monotonic()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.monotonic() - started
print(
    json.dumps(
        {
            "import_errors": {str(k): v for k, v in bag.import_errors.items()},
            "parse_seconds": elapsed,
            "dags": {
                dag_id: {
                    "tags": sorted(dag.tags),
                    "owners": sorted({t.owner for t in dag.tasks}),
                    "retries": sorted({t.retries for t in dag.tasks}),
                    "task_retries": {t.task_id: t.retries for t in dag.tasks},
                    "execution_timeouts": {
                        t.task_id: t.execution_timeout.total_seconds() if t.execution_timeout else None
                        for t in dag.tasks
                    },
                    "params": sorted(dag.params.keys()),
                    "schedule": getattr(dag.timetable, "expression", None),
                    "catchup": dag.catchup,
                    "max_active_runs": dag.max_active_runs,
                    "tasks": sorted(t.task_id for t in dag.tasks),
                    "mapped": sorted(t.task_id for t in dag.tasks if t.is_mapped),
                    "operators": {t.task_id: t.task_type for t in dag.tasks},
                    "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
                    # the Assets a DAG is scheduled on, by name (none for a cron or manual schedule)
                    "schedule_assets": sorted(
                        asset.name for asset in getattr(getattr(dag.timetable, "asset_condition", None), "objects", ())
                    ),
                }
                for dag_id, dag in bag.dags.items()
            },
        }
    )
)
