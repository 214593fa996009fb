"""Shared fixtures: real SeaweedFS and PostgreSQL on loopback, and a migrated Airflow home.

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
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from hls_operators.edges import catalog
from hls_operators.edges.sql import sql_file
from hls_operators.edges.storage import ObjectStore

from devenv import airflow_env, services

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / ".test-artifacts"
MIGRATED_DB = "migrated.db"  # in the session's Airflow home: the metadata database before any run


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

    def start_dags_test(self, dag_id: str, conf: dict | None = None, *, extra_env: dict | None = None) -> subprocess.Popen:
        """``airflow dags test`` in the background, in an Airflow home of its own (a copy of the
        migrated one, without other modules' runs), so that several runs can overlap; its output
        goes to a log in that home."""
        home = Path(self.env["AIRFLOW_HOME"]).with_name(f"airflow-{uuid.uuid4().hex[:8]}")
        home.mkdir()
        shutil.copy(Path(self.env["AIRFLOW_HOME"]) / MIGRATED_DB, home / "airflow.db")
        env = {**self.env, **(extra_env or {}), "AIRFLOW_HOME": str(home),
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}  # fmt: skip
        log = (home / "dags-test.log").open("w")
        command = [str(Path(sys.executable).with_name("airflow")), "dags", "test", dag_id, "-c", json.dumps(conf or {})]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        process.airflow_home = home  # its metadata database, for what a test reads of the run
        return process


@pytest.fixture(scope="session")
def airflow_home(artifacts) -> Path:
    """One migrated metadata database for the session (migrating takes seconds)."""
    home = artifacts / "airflow"
    env = airflow_env.airflow_env(home, catalog_conn="{}", storage_conn="{}", variables={})
    airflow_env.migrate(env)
    shutil.copy(home / "airflow.db", home / MIGRATED_DB)
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
    try:
        yield Pipeline(postgres, seaweedfs, name, bucket, env, work_dir)
    finally:
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
