"""A real Airflow on one machine: api-server, scheduler, dag-processor and triggerer, and either
Celery workers over Redis with a PostgreSQL metadata database (as in production) or the
LocalExecutor with SQLite (what the end-to-end tests and the demo run the wave on: a wave starts
one run per movie, which ``airflow dags test`` cannot run); the simple auth manager or, as in
production, the FAB auth manager with the users and roles ``deploy/airflow/init_auth.py`` creates.

Each worker runs in its own UTS namespace (``unshare --uts``) so that it has its own hostname, as
separate machines would, and with its own temporary folder. Every process is started in its own
session and stopped by PID (SIGTERM, then SIGKILL), also when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devenv import services
from hls_operators.settings import CONVERT_DAG_ID, PIPELINE_DAG_IDS, TRANSCODE_POOL, TRANSCODE_POOL_DESCRIPTION
from hls_operators.wave_operators import movie_run_id

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
ADMIN = "admin"
REPO = Path(__file__).resolve().parents[1]
FINISHED = ("success", "failed", "skipped", "upstream_failed", "removed")
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def redis_url(data_dir: Path, *, db: int = 5) -> tuple[str, subprocess.Popen | None]:
    """The machine's Redis on 127.0.0.1:6379 (database ``db``, so that clusters started one after
    the other never share a queue) when it answers, else a private one (no persistence)."""
    if not services.port_is_free(6379):
        return f"redis://127.0.0.1:6379/{db}", None
    port = services.free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            services.LOOPBACK,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    services.wait_for_port(port, 30, process)
    return f"redis://127.0.0.1:{port}/0", process


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to a process and all it started, SIGKILL to what is left after ``timeout``."""
    try:
        os.killpg(process.pid, 15)
    except ProcessLookupError:
        pass
    wait_or_kill(process, timeout)


def wait_or_kill(process: subprocess.Popen, timeout: float) -> None:
    """Wait for a process group's leader to end; SIGKILL the group after ``timeout``."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait()


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    api_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    workers: dict[str, Path] = field(default_factory=dict)  # Celery worker hostname: its temporary folder
    token: str = ""
    admin_password: str | None = None  # known with the FAB auth manager; the simple one generates it
    fab_users: dict[str, str] = field(default_factory=dict)  # the FAB auth manager's users, as .env names them

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(
        self,
        name: str,
        args: list[str],
        *,
        hostname: str | None = None,
        cpu: int | None = None,
        extra_env: dict | None = None,
    ) -> None:
        command = [AIRFLOW, *args]
        if hostname:
            # A UTS namespace of its own: socket.gethostname() (what Airflow records) is this name.
            command = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *command]
        if cpu is not None:
            command = [
                "taskset",
                "--cpu-list",
                str(cpu),
                *command,
            ]  # the process and all it starts (ffmpeg) on one core
        log = (self.home / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            command, env={**self.env, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_worker(self, hostname: str, tmp_dir: Path, *, cpu: int | None = None) -> None:
        """A Celery worker named ``hostname`` with its own temporary folder (again, after a kill)."""
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.workers[hostname] = tmp_dir
        self.start(
            f"worker-{hostname}",
            ["celery", "worker", "--skip-serve-logs", "--celery-hostname", f"{hostname}@%h"],
            hostname=hostname,
            cpu=cpu,
            extra_env={"TMPDIR": str(tmp_dir)},
        )

    def stop_worker(self, hostname: str) -> None:
        """Stop a worker the way its machine shuts down: SIGTERM, Celery's warm shutdown."""
        stop_group(self.processes.pop(f"worker-{hostname}"))

    def kill_worker(self, hostname: str) -> None:
        """What a worker machine dying looks like: SIGKILL to the worker and everything it started
        (its task processes and their ffmpeg, found by the temporary folder in their environment)."""
        os.killpg(self.processes[f"worker-{hostname}"].pid, 9)
        marker = f"TMPDIR={self.workers[hostname]}".encode()
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "environ").read_bytes():
                    os.kill(int(proc.name), 9)
            except (OSError, ProcessLookupError):
                pass
        self.processes[f"worker-{hostname}"].wait()

    def ffmpeg_pids(self, hostname: str, *, step: str = "") -> list[int]:
        """The ffmpeg processes running on this worker (their environment names its temporary
        folder), only those of ``step`` when one is named (a step works in a folder
        ``hls-<movie>-<step>...``). Read from /proc, not from Airflow: an ffmpeg of a small movie
        lasts about a second, about as long as one look at Airflow's task list takes."""
        marker = f"TMPDIR={self.workers[hostname]}".encode()
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "comm").read_text().strip() == "ffmpeg":
                    if (
                        marker in (proc / "environ").read_bytes()
                        and f"-{step}".encode() in (proc / "cmdline").read_bytes()
                    ):
                        pids.append(int(proc.name))
            except OSError:
                continue
        return pids

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            wait_or_kill(process, max(0.1, deadline - time.monotonic()))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([AIRFLOW, *args], env=self.env, check=True, capture_output=True, text=True)

    def request(self, method: str, path: str, body: dict | None = None, *, token: str | None = None) -> dict:
        """A REST call as the admin, or with ``token`` (another user's; empty: anonymous)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.api + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def page(self, path: str) -> str:
        """A page of the api-server as the admin sees it (the migration view: ``/hls-migration/``)."""
        request = urllib.request.Request(self.api + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read().decode()

    def login(self, username: str, password: str) -> str:
        """A user's API token (``POST /auth/token``, as the UI and the CLI get one)."""
        return self.request("POST", "/auth/token", {"username": username, "password": password}, token="")[
            "access_token"
        ]

    def configure(self, *, variables: dict[str, str], connections: dict[str, str]) -> None:
        """Make the pipeline's Variables and connections (``hls_*``) exactly these, through the REST
        API: how tests that share one Airflow each point it at their own catalog and bucket.
        ``connections`` maps a connection id to its ``AIRFLOW_CONN_*`` JSON. Values given to the
        processes' environment would win over these: a shared cluster starts without them."""
        stale = {item["key"] for item in self.listing("/api/v2/variables?variable_key_pattern=hls_%25", "variables")}
        self._bulk(
            "variables",
            delete=stale - set(variables),
            create=[{"key": key, "value": value} for key, value in variables.items()],
        )
        stale = {
            item["connection_id"]
            for item in self.listing("/api/v2/connections?connection_id_pattern=hls_%25", "connections")
        }
        self._bulk(
            "connections",
            delete=stale - set(connections),
            create=[rest_connection(conn_id, uri) for conn_id, uri in connections.items()],
        )

    def _bulk(self, kind: str, *, delete: set[str], create: list[dict]) -> None:
        actions: list[dict] = [{"action": "create", "entities": create, "action_on_existence": "overwrite"}]
        if delete:
            actions.insert(0, {"action": "delete", "entities": sorted(delete), "action_on_non_existence": "skip"})
        result = self.request("PATCH", f"/api/v2/{kind}", {"actions": actions})
        errors = [error for outcome in result.values() if outcome for error in outcome["errors"]]
        if errors:
            raise RuntimeError(f"setting {kind} failed: {errors}")

    def ensure_pool(self, name: str, slots: int, description: str) -> None:
        self.request(
            "PATCH",
            "/api/v2/pools",
            {
                "actions": [
                    {
                        "action": "create",
                        "action_on_existence": "overwrite",
                        "entities": [{"name": name, "slots": slots, "description": description}],
                    }
                ]
            },
        )

    def fail_run(self, dag_id: str, run_id: str) -> None:
        """Mark a run failed, as the UI's "Mark as failed" does: its waiting tasks stop waiting."""
        self.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", {"state": "failed"})

    def wait_until_ready(self, timeout: float = 180) -> None:
        """API up, token issued, every DAG of the pipeline parsed."""
        deadline = time.monotonic() + timeout
        password_file = self.home / "simple_auth_manager_passwords.json.generated"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.home / (name + '.log')}")
            try:
                if not self.token and self.admin_password is None and password_file.exists():
                    self.admin_password = json.loads(password_file.read_text())[ADMIN]
                if not self.token and self.admin_password is not None:
                    self.token = self.login(ADMIN, self.admin_password)
                if self.token:
                    for dag_id in PIPELINE_DAG_IDS:
                        self.request("GET", f"/api/v2/dags/{dag_id}")
                    return
            except (urllib.error.URLError, ConnectionError, KeyError, json.JSONDecodeError):
                pass
            time.sleep(2)
        raise TimeoutError(f"the cluster was not ready after {timeout} s; logs in {self.home}")

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Unpause (with the per-movie DAG a wave starts runs of) and trigger through the REST API;
        returns the run id."""
        for unpaused in {dag_id, CONVERT_DAG_ID}:
            self.request("PATCH", f"/api/v2/dags/{unpaused}", {"is_paused": False})
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})[
            "dag_run_id"
        ]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        """Poll until the run ends; returns the run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(1)
        raise TimeoutError(
            f"run {run_id} of {dag_id} still {run['state']} after {timeout} s; {self.waiting(dag_id, run_id)}"
        )

    def waiting(self, dag_id: str, run_id: str) -> str:
        """What a run waits for: its unfinished tasks (and those of the movies' runs it started),
        each with its state and pool: a task ``scheduled`` for ever is in a pool with no free slot."""
        instances = self.task_instances(dag_id, run_id)
        if dag_id != CONVERT_DAG_ID:
            instances += self.movie_task_instances(run_id)
        unfinished = [
            f"{ti['dag_run_id']} {ti['task_id']}[{ti['map_index']}] {ti['state']} (pool {ti['pool']})"
            for ti in instances
            if ti["state"] not in FINISHED
        ]
        return "waiting for: " + ("; ".join(unfinished) or "the scheduler (every task finished)")

    def run_dag(self, dag_id: str, conf: dict, timeout: float = 600) -> dict:
        return self.wait_for_run(dag_id, self.trigger(dag_id, conf), timeout)

    def listing(self, path: str, key: str) -> list[dict]:
        """Every item of a REST listing, page by page: the API caps each page at
        ``[api] maximum_page_limit`` (100) items whatever ``limit`` asks for."""
        items: list[dict] = []
        separator = "&" if "?" in path else "?"
        while True:
            page = self.request("GET", f"{path}{separator}offset={len(items)}")
            items += page[key]
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.listing(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")

    def movie_task_instances(self, wave_run_id: str) -> list[dict]:
        """The task instances of every movie's run that a wave's run started (their run ids begin
        with the wave's)."""
        prefix = urllib.parse.quote(movie_run_id(wave_run_id, ""), safe="")
        path = f"/api/v2/dags/{CONVERT_DAG_ID}/dagRuns/~/taskInstances?run_id_prefix_pattern={prefix}"
        return self.listing(path, "task_instances")

    def task_logs(self, run_id: str) -> str:
        """Every task log of the run and of the movies' runs it started (their run ids begin with its own)."""
        logs = sorted(p for p in (self.home / "logs").rglob("*.log") if f"run_id={run_id}" in str(p))
        return "\n".join(p.read_text(errors="replace") for p in logs)

    def wait_for_task(
        self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float = 300, *, map_index: int = -1
    ) -> dict:
        """Poll until the task instance is in ``state``; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            instance = next(
                (
                    ti
                    for ti in self.task_instances(dag_id, run_id)
                    if ti["task_id"] == task_id and ti["map_index"] == map_index
                ),
                None,
            )
            if instance is not None and instance["state"] == state:
                return instance
            time.sleep(1)
        raise TimeoutError(f"{task_id} of {run_id} not {state} after {timeout} s")

    @staticmethod
    def hitl_path(dag_id: str, run_id: str, task_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"

    def required_action(self, dag_id: str, run_id: str, task_id: str) -> dict:
        """What a human-in-the-loop task asks (Browse -> Required Actions in the UI)."""
        return self.request("GET", self.hitl_path(dag_id, run_id, task_id))

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str, *, token: str | None = None) -> dict:
        """Answer a human-in-the-loop task as the admin (or the user of ``token``), as the Required
        Actions page does."""
        body = {"chosen_options": [option], "params_input": {}}
        return self.request("PATCH", self.hitl_path(dag_id, run_id, task_id), body, token=token)


def rest_connection(conn_id: str, airflow_conn_json: str) -> dict:
    """An ``AIRFLOW_CONN_*`` JSON value as the REST API's connection body."""
    fields = json.loads(airflow_conn_json)
    body = {"connection_id": conn_id, **{key: value for key, value in fields.items() if key != "extra"}}
    if "extra" in fields:
        body["extra"] = json.dumps(fields["extra"])
    return body


def start_cluster(
    home: Path,
    *,
    pipeline_env: dict[str, str],
    transcode_slots: int,
    metadata_dsn: str | None = None,
    broker_url: str | None = None,
    workers: dict[str, Path] | None = None,
    worker_concurrency: int = 2,
    worker_cpus: dict[str, int] | None = None,
    fab_users: dict[str, str] | None = None,
    migrated: bool = False,
) -> Cluster:
    """Start every component. With ``broker_url``, the CeleryExecutor on PostgreSQL (``metadata_dsn``)
    and its ``workers``: each worker's hostname to its temporary folder, ``worker_cpus`` (optional)
    to the one core it may use. Without, the LocalExecutor on a SQLite database in ``home``. With
    ``fab_users`` (the variables ``init_auth.py`` reads from .env: ``AIRFLOW_ADMIN_PASSWORD``,
    ``HLS_OPERATOR_USER``, ...), the FAB auth manager, initialised as docker-compose.yaml's
    airflow-init does. ``migrated``: the metadata database is a copy of a migrated one (a SQLite
    file in ``home`` or a PostgreSQL database made from a template), so no ``db migrate`` runs."""
    home.mkdir(parents=True, exist_ok=True)
    api_port = services.free_port()
    env = {
        # Files are parsed again every 10 s here (production: 30 s); a caller may change that.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        **pipeline_env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",  # only read by the simple auth manager
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    }
    if broker_url is not None:
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{metadata_dsn}",
                "AIRFLOW__CELERY__BROKER_URL": broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{metadata_dsn}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            }
        )
    else:
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW__CORE__PARALLELISM": "4",  # the LocalExecutor forks this many workers up front
            }
        )
    if fab_users is not None:
        env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB_AUTH_MANAGER
    cluster = Cluster(home, env, api_port)
    if not migrated:
        cluster.cli("db", "migrate")
    if fab_users is not None:
        subprocess.run(
            [sys.executable, str(REPO / "deploy" / "airflow" / "init_auth.py")],
            env={**env, **fab_users, "PYTHONPATH": str(REPO / "plugins")},
            check=True,
            capture_output=True,
            text=True,
        )
        cluster.admin_password, cluster.fab_users = fab_users["AIRFLOW_ADMIN_PASSWORD"], fab_users
    try:
        cluster.start("api-server", ["api-server"])
        cluster.start("scheduler", ["scheduler"])
        cluster.start("dag-processor", ["dag-processor"])
        cluster.start("triggerer", ["triggerer"])  # a wave's convert tasks wait deferred for their movies' runs
        for hostname, tmp_dir in (workers or {}).items():
            cluster.start_worker(hostname, tmp_dir, cpu=(worker_cpus or {}).get(hostname))
        cluster.wait_until_ready()
        cluster.ensure_pool(TRANSCODE_POOL, transcode_slots, TRANSCODE_POOL_DESCRIPTION)
    except BaseException:
        cluster.stop()
        raise
    return cluster


CELERY_WORKERS = ("worker-a", "worker-b")


def start_celery_cluster(
    root: Path,
    *,
    metadata_dsn: str,
    pipeline_env: dict[str, str],
    fab_users: dict[str, str] | None = None,
    worker_concurrency: int = 2,
) -> Cluster:
    """The CeleryExecutor as production runs it, under ``root``: PostgreSQL metadata (``metadata_dsn``,
    a migrated copy or an empty database), Redis (the machine's, else a private one, stopped with the
    cluster) and the two workers of ``CELERY_WORKERS``, each with its hostname and its temporary
    folder ``root/tmp-<hostname>``, ``worker_concurrency`` task slots and one transcode slot each."""
    broker, redis_process = redis_url(root / "redis")
    try:
        cluster = start_cluster(
            root / "cluster",
            metadata_dsn=metadata_dsn,
            broker_url=broker,
            pipeline_env=pipeline_env,
            workers={name: root / f"tmp-{name}" for name in CELERY_WORKERS},
            transcode_slots=len(CELERY_WORKERS),
            worker_concurrency=worker_concurrency,
            fab_users=fab_users,
        )
    except BaseException:
        if redis_process is not None:
            services.stop_process(redis_process)
        raise
    if redis_process is not None:
        cluster.processes["redis"] = redis_process
    return cluster
