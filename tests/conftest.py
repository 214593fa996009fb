"""Shared fixtures: real SeaweedFS and PostgreSQL on loopback, a migrated Airflow home for
``airflow dags test``, and real Airflows (scheduler, triggerer, LocalExecutor) for the waves.

Services start once per test session and are stopped at the end, also when tests fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from hls_operators.edges import catalog
from hls_operators.edges.sql import sql_file
from hls_operators.edges.storage import ObjectStore

from devenv import airflow_cluster, airflow_env, services

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / ".test-artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Test outputs kept after the run (service logs, Airflow logs) for a look when CI fails."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir()
    return ARTIFACTS


@pytest.fixture(scope="session")
def seaweedfs(artifacts):
    server = services.start_seaweedfs(artifacts / "seaweedfs")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(artifacts):
    server = services.connect_postgres(artifacts / "postgres")
    yield server
    server.stop()


@dataclass
class Pipeline:
    """Everything one test needs to drive the pipeline: its own catalog database and bucket."""

    postgres: services.Postgres
    seaweedfs: services.SeaweedFS
    database: str
    bucket: str
    env: dict[str, str]
    work_dir: Path  # hls_tmp_dir: must be empty whenever no task runs
    cluster: airflow_cluster.Cluster | None = None
    started: list[airflow_cluster.Cluster] = field(default_factory=list)  # stopped with the pipeline

    @property
    def dsn(self) -> str:
        return self.postgres.dsn(self.database)

    @property
    def public_base_url(self) -> str:
        return f"{self.seaweedfs.endpoint}/{self.bucket}"

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = psycopg2.connect(self.dsn)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def dags_test(self, dag_id: str, conf: dict | None = None):
        """``airflow dags test`` as a user runs it; returns the finished process."""
        result = airflow_env.airflow(self.env, "dags", "test", dag_id, "-c", json.dumps(conf or {}), check=False)
        log = Path(self.env["AIRFLOW_HOME"]) / f"dags-test-{dag_id}-{uuid.uuid4().hex[:6]}.log"
        log.write_text(result.stdout + result.stderr)
        return result

    def airflow(self) -> airflow_cluster.Cluster:
        """This module's own Airflow (LocalExecutor, triggerer, SQLite), started on first use with
        the pipeline's environment as it is then: what runs a wave, whose movies each run in a run
        of ``hls_convert_movie``."""
        if self.cluster is None:
            self.cluster = self.start_airflow()
        return self.cluster

    def run(self, dag_id: str, conf: dict | None = None, timeout: float = 900) -> AirflowRun:
        """Trigger a run on this module's Airflow and wait for it to end."""
        cluster = self.airflow()
        run = cluster.run_dag(dag_id, conf or {}, timeout)
        return AirflowRun(cluster, run["dag_run_id"], run["state"])

    def start_run(self, dag_id: str, conf: dict | None = None, *, extra_env: dict | None = None) -> BackgroundRun:
        """Trigger a run on an Airflow of its own (its own metadata, ``extra_env`` added), so that
        several runs can overlap; ``wait`` stops that Airflow once the run ended."""
        cluster = self.start_airflow(extra_env)
        return BackgroundRun(cluster, dag_id, cluster.trigger(dag_id, conf or {}))

    def start_airflow(self, extra_env: dict | None = None) -> airflow_cluster.Cluster:
        home = Path(self.env["AIRFLOW_HOME"]).with_name(f"airflow-{uuid.uuid4().hex[:8]}")
        env = {**self.env, **(extra_env or {}), "HLS_MIGRATION_SCHEDULE": ""}  # no scheduled run on unpause
        cluster = airflow_cluster.start_cluster(home, pipeline_env=env, transcode_slots=2)
        self.started.append(cluster)
        return cluster


@dataclass
class AirflowRun:
    """A run that ended on a real Airflow: its state, and the task logs of it and of the runs it started."""

    cluster: airflow_cluster.Cluster
    run_id: str
    state: str

    @property
    def output(self) -> str:
        return self.cluster.task_logs(self.run_id)


@dataclass
class BackgroundRun:
    """A run going on on an Airflow of its own, for tests that act on it while it runs."""

    cluster: airflow_cluster.Cluster
    dag_id: str
    run_id: str

    @property
    def airflow_home(self) -> Path:
        return self.cluster.home

    def state(self) -> str:
        return self.cluster.request("GET", f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}")["state"]

    def poll(self) -> str | None:
        """The run's final state, or None while it runs."""
        state = self.state()
        return state if state in ("success", "failed") else None

    def wait(self, timeout: float = 900) -> str:
        """The run's final state, once it ended; its Airflow is stopped then."""
        try:
            return self.cluster.wait_for_run(self.dag_id, self.run_id, timeout)["state"]
        finally:
            self.cluster.stop()

    def kill(self) -> None:
        self.cluster.stop()

    @property
    def output(self) -> str:
        return self.cluster.task_logs(self.run_id)


@pytest.fixture(scope="session")
def airflow_home(artifacts) -> Path:
    """One migrated metadata database for the session (migrating takes seconds)."""
    home = artifacts / "airflow"
    env = airflow_env.airflow_env(home, catalog_conn="{}", storage_conn="{}", variables={})
    airflow_env.migrate(env)
    return home


@pytest.fixture(scope="module")
def pipeline(postgres, seaweedfs, airflow_home, artifacts) -> Pipeline:
    yield from make_pipeline(postgres, seaweedfs, airflow_home, artifacts)


def make_pipeline(postgres, seaweedfs, airflow_home, artifacts):
    """A fresh catalog database and bucket on the given servers (a generator: drops the database)."""
    name = f"hls_test_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    bucket = name.replace("_", "-")
    services.create_bucket(seaweedfs.client(), bucket)
    work_dir = artifacts / f"work-{name}"
    work_dir.mkdir()
    env = airflow_env.airflow_env(
        airflow_home,
        catalog_conn=postgres.airflow_connection(name),
        storage_conn=seaweedfs.airflow_connection(),
        variables={
            "hls_bucket": bucket,
            "hls_public_base_url": f"{seaweedfs.endpoint}/{bucket}",
            "hls_tmp_dir": str(work_dir),
        },
    )
    # The bucket's CORS rule comes from the pipeline's own command, as in a deployment.
    subprocess.run([sys.executable, "-m", "hls_operators.storage_setup", "*"], env=env, check=True, capture_output=True)
    pipeline = Pipeline(postgres, seaweedfs, name, bucket, env, work_dir)
    try:
        yield pipeline
    finally:
        for cluster in pipeline.started:
            cluster.stop()
        postgres.drop_database(name)


@dataclass
class CatalogAndBucket:
    """A catalog database (the application's table and the pipeline's own) and a bucket, for the
    steps that take a ``connect()`` and a store."""

    store: ObjectStore
    connect: Callable[[], AbstractContextManager]


@pytest.fixture
def catalog_and_bucket(postgres, seaweedfs):
    name = f"hls_steps_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    services.create_bucket(seaweedfs.client(), name.replace("_", "-"))

    @contextmanager
    def connect():
        conn = psycopg2.connect(postgres.dsn(name))
        try:
            yield conn
        finally:
            conn.close()

    with connect() as conn:
        with conn, conn.cursor() as cur:
            cur.execute(sql_file("movies.sql"))
        catalog.ensure_schema(conn)
    yield CatalogAndBucket(ObjectStore(seaweedfs.client(), name.replace("_", "-")), connect)
    postgres.drop_database(name)
