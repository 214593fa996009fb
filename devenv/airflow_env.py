"""A self-contained Airflow home for the demo and the tests: SQLite metadata, this repository's
dags/ and plugins/, connections and Variables from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def airflow_env(
    home: Path,
    *,
    catalog_conn: str | None = None,
    storage_conn: str | None = None,
    variables: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an Airflow on ``home``. The pipeline's connections and Variables given
    here are environment variables, which win over any set through the API or the UI: an Airflow
    that tests share is started without them and configured through its REST API instead."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "plugins"), env.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    connections = {"HLS_CATALOG": catalog_conn, "HLS_STORAGE": storage_conn}
    env.update({f"AIRFLOW_CONN_{name}": value for name, value in connections.items() if value is not None})
    env.update({f"AIRFLOW_VAR_{name.upper()}": value for name, value in (variables or {}).items()})
    return env


def airflow(env: dict[str, str], *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    """Run the ``airflow`` CLI of this interpreter's environment."""
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    return subprocess.run(command, env=env, check=check, text=True, capture_output=capture)


def migrate(env: dict[str, str]) -> None:
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow(env, "db", "migrate")
