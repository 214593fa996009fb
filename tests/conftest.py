"""Shared fixtures: real SeaweedFS and PostgreSQL on loopback, a migrated Airflow home for
``airflow dags test``, and one real Airflow (scheduler, triggerer, LocalExecutor) for the waves.

Services start once per test session and are stopped at the end, also when tests fail. Tests are
isolated by what they own (a catalog database, a bucket, movie ids), not by services of their own.
"""

from __future__ import annotations

import json
import secrets
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

from devenv import airflow_cluster, airflow_env, services
from devenv.catalog_seed import SeedMovie, seed_catalog
from hls_operators.edges import catalog
from hls_operators.edges.sql import sql_file
from hls_operators.edges.storage import ObjectStore

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / ".test-artifacts"


# Where each test runs when test processes share the work (``make test``: ``-n 3``): the tests
# of each Airflow in one process, so that each Airflow is started once; the tests of any other
# module together, so that its module fixtures are made once.
AIRFLOW_MODULES = {  # the first prefix that matches
    "tests/e2e/test_events.py": "celery_airflow",
    "tests/e2e/test_hostile_catalog.py": "celery_airflow",
    "tests/e2e/test_preflight.py": "celery_airflow",
    "tests/e2e/": "shared_airflow",
    "tests/faults/test_pipeline_faults.py": "shared_airflow",
    "tests/distributed/": "celery_airflow",
}


def process_group(nodeid: str) -> str:
    """The group of tests that run in one process: an Airflow fixture's name, or the module's path."""
    module = nodeid.split("::")[0]
    return next((airflow for prefix, airflow in AIRFLOW_MODULES.items() if module.startswith(prefix)), module)


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test that uses an Airflow is in that Airflow's group (or it would start a second one)."""
    for airflow in ("celery_airflow", "shared_airflow"):
        if airflow in item.fixturenames:
            assert process_group(item.nodeid) == airflow, (
                f"{item.nodeid} uses {airflow}: list its module in AIRFLOW_MODULES"
            )
            return


def pytest_xdist_make_scheduler(config, log):
    """Groups handed out in collection order, not largest first: the Celery group (tests/distributed)
    and the LocalExecutor group (tests/e2e) go to two processes within seconds of the start, as
    they take longest, and a third process takes the other modules meanwhile."""
    from xdist.scheduler import LoadScopeScheduling

    class ByProcessGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return process_group(nodeid)

    config.option.loadscopereorder = False
    return ByProcessGroup(config, log)


@pytest.fixture(scope="session")
def artifacts(worker_id) -> Path:
    """Test outputs kept after the run (service logs, Airflow logs) for a look when CI fails: one
    folder per test process."""
    folder = ARTIFACTS / worker_id  # "master" without parallel processes
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


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


# The DAG files do not change while the tests run: parsing them again every few seconds cost an idle
# cluster 7.4 CPU-s a minute against 3.1 (two clusters on 2 cores for the whole run).
PARSED_ONCE = {"AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600"}


class MigratedMetadata:
    """One migrated SQLite metadata database for the session, made on first use: every Airflow of
    the session starts from a copy (a migration takes seconds each time), and a test process that
    starts none makes none."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def copy_to(self, home: Path) -> None:
        """Give ``home`` a migrated metadata database, unless it has one."""
        if not (self.home / "airflow.db").exists():
            airflow_env.migrate(airflow_env.airflow_env(self.home))
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "airflow.db").exists():
            shutil.copy(self.home / "airflow.db", home / "airflow.db")


class SharedAirflow:
    """The session's one LocalExecutor Airflow (api-server, scheduler, dag-processor, triggerer on
    SQLite), started on first use from a copy of the migrated metadata database. Tests share it and
    are isolated by what they own: each points it at its catalog and bucket before it triggers."""

    def __init__(self, metadata: MigratedMetadata, home: Path) -> None:
        self.metadata, self.home = metadata, home
        self.cluster: airflow_cluster.Cluster | None = None

    def get(self) -> airflow_cluster.Cluster:
        if self.cluster is None:
            self.metadata.copy_to(self.home)
            env = {
                **airflow_env.airflow_env(self.home),
                "HLS_MIGRATION_SCHEDULE": "",  # no scheduled run on unpause: only the tests' triggers
                "HLS_RETRY_DELAY_SECONDS": "1",  # a retried fault costs a second, not a minute
                # Each task after another waits for the scheduler's next loop: half a second, not one
                # (the tests' waves are chains of a dozen short tasks).
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                **PARSED_ONCE,
            }
            self.cluster = airflow_cluster.start_cluster(self.home, pipeline_env=env, transcode_slots=2, migrated=True)
        return self.cluster

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


@dataclass
class Pipeline:
    """Everything one test needs to drive the pipeline: its own catalog database and bucket, the
    Variables and connections that point the pipeline at them, and the session's Airflow."""

    postgres: services.Postgres
    seaweedfs: services.SeaweedFS
    database: str
    bucket: str
    work_dir: Path  # hls_tmp_dir: must be empty whenever no task runs
    variables: dict[str, str]
    connections: dict[str, str]  # connection id: its AIRFLOW_CONN_* JSON
    dags_test_home: Path
    shared: SharedAirflow

    @property
    def dsn(self) -> str:
        return self.postgres.dsn(self.database)

    @property
    def public_base_url(self) -> str:
        return f"{self.seaweedfs.endpoint}/{self.bucket}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of ``airflow dags test`` and the pipeline's own commands, with this
        pipeline's settings."""
        env = airflow_env.airflow_env(self.dags_test_home, variables=self.variables)
        env.update({f"AIRFLOW_CONN_{conn_id.upper()}": value for conn_id, value in self.connections.items()})
        return env

    def seed(self, *, movies: list[SeedMovie]) -> dict[int, str]:
        """``movies`` in this pipeline's catalog, their sources uploaded to its bucket; returns each
        movie's ``video_url``."""
        return seed_catalog(
            self.dsn,
            self.seaweedfs.client(),
            bucket=self.bucket,
            public_base_url=self.public_base_url,
            movies=movies,
        )

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
        self.shared.metadata.copy_to(self.dags_test_home)
        result = airflow_env.airflow(self.env, "dags", "test", dag_id, "-c", json.dumps(conf or {}), check=False)
        log = self.dags_test_home / f"dags-test-{dag_id}-{uuid.uuid4().hex[:6]}.log"
        log.write_text(result.stdout + result.stderr)
        return result

    def airflow(
        self,
        cluster: airflow_cluster.Cluster | None = None,
        *,
        variables: dict | None = None,
        connections: dict | None = None,
    ) -> airflow_cluster.Cluster:
        """An Airflow (the session's LocalExecutor one unless ``cluster`` is given) pointed at this
        pipeline, plus ``variables`` and ``connections`` for what comes next: the next call without
        them takes them away again."""
        cluster = cluster or self.shared.get()
        cluster.configure(
            variables={**self.variables, **(variables or {})}, connections={**self.connections, **(connections or {})}
        )
        return cluster

    def run(self, dag_id: str, conf: dict | None = None, timeout: float = 480, **settings) -> AirflowRun:
        """Trigger a run and wait for it to end (``settings``: see ``airflow``)."""
        run = self.start_run(dag_id, conf, **settings)
        return AirflowRun(run.cluster, run.run_id, run.wait(timeout))

    def start_run(self, dag_id: str, conf: dict | None = None, **settings) -> BackgroundRun:
        """Trigger a run and return while it goes on (``settings``: see ``airflow``)."""
        cluster = self.airflow(**settings)
        return BackgroundRun(cluster, dag_id, cluster.trigger(dag_id, conf or {}))


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
    """A run going on, for tests that act on it while it runs."""

    cluster: airflow_cluster.Cluster
    dag_id: str
    run_id: str

    def state(self) -> str:
        return self.cluster.request("GET", f"/api/v2/dags/{self.dag_id}/dagRuns/{self.run_id}")["state"]

    def poll(self) -> str | None:
        """The run's final state, or None while it runs."""
        state = self.state()
        return state if state in ("success", "failed") else None

    def wait(self, timeout: float = 480) -> str:
        """The run's final state, once it ended."""
        return self.cluster.wait_for_run(self.dag_id, self.run_id, timeout)["state"]

    def fail(self) -> None:
        """Mark it failed (a run waiting for an answer nobody gives), so that the next run can start."""
        self.cluster.fail_run(self.dag_id, self.run_id)

    @property
    def output(self) -> str:
        return self.cluster.task_logs(self.run_id)


@pytest.fixture(scope="session")
def airflow_home(artifacts) -> Path:
    """The Airflow home of ``airflow dags test`` runs (its metadata database comes with the first)."""
    return artifacts / "airflow"


@pytest.fixture(scope="session")
def shared_airflow(artifacts):
    shared = SharedAirflow(MigratedMetadata(artifacts / "airflow-template"), artifacts / "airflow-local")
    yield shared
    shared.stop()


@pytest.fixture(scope="session")
def celery_airflow(postgres, artifacts):
    """The session's production-like Airflow: the CeleryExecutor with two workers of their own
    hostnames and temporary folders, PostgreSQL metadata, the FAB auth manager and its users. The
    distributed tests and the soak share it, each pointing it at its own catalog and storage."""
    database = f"hls_airflow_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    env = {
        **airflow_env.airflow_env(artifacts / "celery" / "cluster"),
        "HLS_MIGRATION_SCHEDULE": "",  # only the tests' triggers, no scheduled run on unpause
        "HLS_RETRY_DELAY_SECONDS": "2",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",  # notice a dead worker quickly
        **PARSED_ONCE,
    }
    cluster = airflow_cluster.start_celery_cluster(
        artifacts / "celery",
        metadata_dsn=f"{postgres.user}@{postgres.host}:{postgres.port}/{database}",
        pipeline_env=env,
        worker_concurrency=3,  # a slot more than production's 2 per worker: tasks here mostly wait, not compute
        fab_users={  # the users .env would name, as in production (random passwords)
            "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "HLS_OPERATOR_USER": "operator",
            "HLS_OPERATOR_PASSWORD": secrets.token_urlsafe(16),
            "HLS_VIEWER_USER": "viewer",
            "HLS_VIEWER_PASSWORD": secrets.token_urlsafe(16),
        },
    )
    yield cluster
    cluster.stop()
    postgres.drop_database(database)


@pytest.fixture(scope="module")
def pipeline(postgres, seaweedfs, airflow_home, shared_airflow, artifacts) -> Pipeline:
    yield from make_pipeline(postgres, seaweedfs, airflow_home, shared_airflow, artifacts)


def make_pipeline(postgres, seaweedfs, airflow_home, shared_airflow, artifacts):
    """A fresh catalog database and bucket on the given servers (a generator: drops the database)."""
    name = f"hls_test_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    bucket = name.replace("_", "-")
    services.create_bucket(seaweedfs.client(), bucket)
    work_dir = artifacts / f"work-{name}"
    work_dir.mkdir()
    pipeline = Pipeline(
        postgres,
        seaweedfs,
        name,
        bucket,
        work_dir,
        variables={
            "hls_bucket": bucket,
            "hls_public_base_url": f"{seaweedfs.endpoint}/{bucket}",
            "hls_tmp_dir": str(work_dir),
        },
        connections={"hls_catalog": postgres.airflow_connection(name), "hls_storage": seaweedfs.airflow_connection()},
        dags_test_home=airflow_home,
        shared=shared_airflow,
    )
    # The bucket's CORS rule comes from the pipeline's own command, as in a deployment.
    subprocess.run(
        [sys.executable, "-m", "hls_operators.storage_setup", "*"], env=pipeline.env, check=True, capture_output=True
    )
    try:
        yield pipeline
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
