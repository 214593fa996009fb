"""A chaos soak: a Celery cluster converts a catalog of movies of mixed lengths, some of them bad,
while a schedule injects the faults production meets; then one recovery run, and the figures.

    make soak                                  # 60 movies, every fault, on a cluster of its own
    python -m devenv.soak --movies 12          # what the tests run on theirs (tests/distributed/test_soak.py)

The catalog's PostgreSQL and the storage server are the soak's own (it restarts and stops them);
the cluster may be one that others use: the soak points it at them and puts back what it changed.

Each fault is injected when it can hurt, in this order:

- ``duplicate_trigger``: the same run triggered a second time (it waits for the first, then runs)
- ``worker_killed``: SIGKILL to one worker and all it started while it encodes; back 10 s later
- ``ffmpeg_killed``: SIGKILL to one running ffmpeg alone on the other worker (what the kernel's
  OOM killer does)
- ``storage_stopped``: the S3 server stopped for 20 s while tasks run, then started again
- ``catalog_restarted``: the catalog's PostgreSQL restarted (fast shutdown: connections cut); the
  ledger lives in that database, so a step that failed on it shows as an Airflow retry and, when
  it died without reporting, as ``worker_lost`` on its retry
- ``disk_filled``: one worker's work disk (a tmpfs: needs root) filled for 30 s

How long each outage lasts is ``OUTAGES``; the tests' small soak passes shorter ones.

Afterwards one run with ``resume`` recovers what the faults failed. The figures: movies, faults
injected, Airflow retries, good movies lost, bad movies converted, masters whose objects are not
all stored (half-published), movies converted more than once, claims left, ledger attempts left
open, error classes seen, wall time.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import m3u8
import psycopg2

from devenv import airflow_cluster, airflow_env, media, services
from devenv.catalog_seed import SeedMovie, seed_catalog
from hls_operators.edges.sql import queries
from hls_operators.settings import DAG_ID

BUCKET = "soak"
METADATA_DB = "hls_soak_airflow"  # make soak's cluster's, on the machine's PostgreSQL
WORKERS = airflow_cluster.CELERY_WORKERS
DISK_MB = 1024  # the second worker's work disk, the one that gets filled
FAULTS = ("duplicate_trigger", "worker_killed", "ffmpeg_killed", "storage_stopped", "catalog_restarted", "disk_filled")
# The error class a fault leaves in the ledger when it hits a step (a duplicate trigger leaves none).
FAULT_CLASSES = {
    "worker_killed": {"worker_lost"},
    "ffmpeg_killed": {"worker_lost", "out_of_memory"},
    "storage_stopped": {"storage_unavailable"},
    "catalog_restarted": {"catalog_unavailable"},
    "disk_filled": {"disk_full"},
}
# Seconds a worker stays dead, the storage stopped, the disk full.
OUTAGES = {"worker_killed": 10.0, "storage_stopped": 20.0, "disk_filled": 30.0}
BAD_KINDS = ("text", "truncated", "empty")
FFMPEG_POLL_SECONDS = 0.1  # a scan of /proc takes a few ms; a chunk's ffmpeg here lasts about a second
SQL = queries("tools.sql")


@dataclass
class Soak:
    """What a soak did and what it left: the figures docs/reliability.md reports."""

    movies: int
    bad: int
    injected: dict[str, float] = field(default_factory=dict)  # fault -> seconds after the first trigger
    skipped: dict[str, str] = field(default_factory=dict)  # fault -> why it was not injected
    retries: int = 0
    lost: list[int] = field(default_factory=list)
    bad_converted: list[int] = field(default_factory=list)
    double_converted: list[int] = field(default_factory=list)
    half_published: list[str] = field(default_factory=list)
    claims_left: list[str] = field(default_factory=list)  # "movie 7 by <run id>"
    open_attempts: int = 0
    attempts: int = 0
    classes: Counter = field(default_factory=Counter)
    runs: dict[str, str] = field(default_factory=dict)  # run -> state
    wall_seconds: float = 0.0

    def unseen(self) -> list[str]:
        """Injected faults whose error class the ledger never recorded."""
        return [f for f in self.injected if f in FAULT_CLASSES and not FAULT_CLASSES[f] & set(self.classes)]

    def report(self) -> str:
        faults = ", ".join(f"{name} at {at:.0f} s" for name, at in self.injected.items())
        skipped = "".join(f"\n  not injected: {name} ({why})" for name, why in self.skipped.items())
        classes = ", ".join(f"{name} x{count}" for name, count in self.classes.most_common())
        return (
            f"movies {self.movies} ({self.bad} bad), faults injected {len(self.injected)}: {faults}{skipped}\n"
            f"runs: {', '.join(f'{run} {state}' for run, state in self.runs.items())}\n"
            f"ledger attempts {self.attempts} ({classes}); Airflow task retries {self.retries}\n"
            f"lost {len(self.lost)}, bad converted {len(self.bad_converted)}, half-published {len(self.half_published)}, "
            f"double-converted {len(self.double_converted)}, claims left {len(self.claims_left)}, attempts left open {self.open_attempts}\n"
            f"faults not seen in the ledger: {', '.join(self.unseen()) or 'none'}; wall time {self.wall_seconds:.0f} s"
            + "".join(f"\n  claim left: {claim}" for claim in self.claims_left)
        )


def make_catalog(folder: Path, count: int) -> tuple[list[SeedMovie], set[int]]:
    """``count`` movies: every sixth one bad (a text file, a truncated MP4, an empty file), the
    others 2 to 13 s long (the longer ones in several chunks), half with sound."""
    folder.mkdir(parents=True, exist_ok=True)
    movies, bad = [], set()
    for movie_id in range(1, count + 1):
        path = folder / f"{movie_id}.mp4"
        if movie_id % 6 == 0:
            kind = BAD_KINDS[(movie_id // 6 - 1) % len(BAD_KINDS)]
            if kind == "text":
                path.write_text("not a movie\n" * 100)
            elif kind == "truncated":
                whole = media.generate_movie(folder / f"{movie_id}-whole.mp4", width=320, height=180, seconds=4)
                media.truncated_copy(whole, path, 0.4)
            else:
                path.write_bytes(b"")
            bad.add(movie_id)
        else:
            seconds = (2, 4, 7, 13)[movie_id % 4]
            width, height = (320, 180) if movie_id % 2 else (640, 360)
            media.generate_movie(path, width=width, height=height, seconds=seconds, audio=movie_id % 2 == 1)
        movies.append(SeedMovie(movie_id, f"Soak {movie_id}", path))
    return movies, bad


class Faults:
    """Injects the faults into a running cluster, each once, when it can hurt."""

    def __init__(
        self,
        cluster,
        *,
        storage: services.SeaweedFS,
        catalog: services.Postgres,
        small_disk: Path | None,
        started: float,
        outages: dict[str, float],
    ):
        self.cluster, self.storage, self.catalog = cluster, storage, catalog
        self.small_disk, self.started, self.outages = small_disk, started, outages

    def running(self, run_ids: list[str]) -> bool:
        """Whether a task of a movie of these waves runs."""
        return any(ti["state"] == "running" for run_id in run_ids for ti in self.cluster.movie_task_instances(run_id))

    def wait(self, condition, timeout: float = 240, interval: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return False

    def kill_one_ffmpeg(self, hostname: str) -> bool:
        """SIGKILL one ffmpeg running on ``hostname``; whether there was one (it may end between
        the scan and the kill: then none was killed, and the next look tries again)."""
        for pid in self.cluster.ffmpeg_pids(hostname):
            try:
                os.kill(pid, signal.SIGKILL)
                return True
            except ProcessLookupError:
                continue
        return False

    def inject(self, name: str, run_ids: list[str], soak: Soak) -> None:
        """Inject fault ``name``, or record in ``soak.skipped`` why it could not be."""
        victim = WORKERS[0]
        if name == "duplicate_trigger":
            run_ids.append(self.cluster.trigger(DAG_ID, {}))
        elif name == "worker_killed":
            # while an encode's ffmpeg runs on it: the step is under way, not still starting
            if not self.wait(lambda: self.cluster.ffmpeg_pids(victim, step="encode_"), interval=FFMPEG_POLL_SECONDS):
                soak.skipped[name] = f"no encode ran on {victim}"
                return
            self.cluster.kill_worker(victim)
            soak.injected[name] = time.monotonic() - self.started
            time.sleep(self.outages["worker_killed"])
            self.cluster.start_worker(victim, self.cluster.workers[victim])
            return
        elif name == "ffmpeg_killed":
            other = WORKERS[1]  # not the worker just killed: a fault of its own
            if not self.wait(lambda: self.kill_one_ffmpeg(other), interval=FFMPEG_POLL_SECONDS):
                soak.skipped[name] = f"no ffmpeg ran on {other}"
                return
        elif name == "storage_stopped":
            if not self.wait(lambda: self.running(run_ids)):
                soak.skipped[name] = "no task ran"
                return
            self.storage.stop()
            soak.injected[name] = time.monotonic() - self.started
            time.sleep(self.outages["storage_stopped"])
            self.storage.process = services.start_seaweedfs(self.storage.data_dir, s3_port=self.storage.s3_port).process
            return
        elif name == "catalog_restarted":
            if not self.wait(lambda: self.running(run_ids)):
                soak.skipped[name] = "no task ran"
                return
            services.restart_private_postgres(self.catalog)
        elif name == "disk_filled":
            if self.small_disk is None:
                soak.skipped[name] = "a tmpfs work disk needs root"
                return
            filler = self.small_disk / "filler"
            soak.injected[name] = time.monotonic() - self.started
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)  # until ENOSPC
            time.sleep(self.outages["disk_filled"])
            filler.unlink()
            return
        soak.injected[name] = time.monotonic() - self.started


def half_published(client) -> list[str]:
    """Masters in the bucket that name a playlist, segment or init section the bucket lacks."""
    keys = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="hls/"):
        keys.update(item["Key"] for item in page.get("Contents", []))
    broken = []
    for master in sorted(k for k in keys if k.endswith("/master.m3u8")):
        missing = []
        pending = [master]
        while pending:
            key = pending.pop()
            if key not in keys:
                missing.append(key)
                continue
            if not key.endswith(".m3u8"):
                continue
            playlist = m3u8.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())
            uris = [p.uri for p in playlist.playlists] + [m.uri for m in playlist.media if m.uri]
            uris += [p.uri for p in playlist.iframe_playlists] + [s.uri for s in playlist.segments]
            uris += [s.init_section.uri for s in playlist.segments if s.init_section]
            pending += [posixpath.normpath(posixpath.join(posixpath.dirname(key), uri)) for uri in uris]
        if missing:
            broken.append(f"{master}: {len(missing)} missing, e.g. {missing[0]}")
    return broken


def read_outcome(soak: Soak, dsn: str, bad: set[int], movie_ids: list[int]) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SQL["soak_attempts"])
            attempts = cur.fetchall()
            cur.execute(SQL["soak_video_urls"])
            urls = dict(cur.fetchall())
            cur.execute(SQL["soak_claims_left"])
            soak.claims_left = [f"movie {movie_id} by {run_id}" for movie_id, run_id in cur.fetchall()]
    finally:
        conn.close()
    soak.attempts = len(attempts)
    soak.open_attempts = sum(1 for a in attempts if a[1] == "running")
    soak.classes = Counter(a[2] for a in attempts if a[2])
    for movie_id in movie_ids:
        masters = [a[3] for a in attempts if a[0] == movie_id and a[1] == "succeeded"]
        if movie_id in bad:
            if masters:
                soak.bad_converted.append(movie_id)
        elif len(masters) > 1:
            soak.double_converted.append(movie_id)
        elif not masters or urls[movie_id] != masters[0]:
            soak.lost.append(movie_id)


def run_soak(
    root: Path,
    cluster: airflow_cluster.Cluster,
    *,
    movies: int,
    faults: tuple[str, ...] = FAULTS,
    outages: dict[str, float] = OUTAGES,
) -> Soak:
    """Convert ``movies`` movies on ``cluster`` (running ``WORKERS``) under ``faults``, recover,
    measure. The catalog, the storage and the filled disk are started under ``root``."""
    catalog_pg = services.start_private_postgres(root / "catalog-pg")
    storage = services.start_seaweedfs(root / "seaweedfs")
    small_disk = root / "small-disk" if os.geteuid() == 0 else None
    usual_tmp = cluster.workers[WORKERS[1]]
    try:
        catalog_pg.create_database("catalog")
        services.create_bucket(storage.client(), BUCKET)
        base_url = f"{storage.endpoint}/{BUCKET}"
        seeded, bad = make_catalog(root / "media", movies)
        seed_catalog(
            catalog_pg.dsn("catalog"), storage.client(), bucket=BUCKET, public_base_url=base_url, movies=seeded
        )
        cluster.configure(
            connections={
                "hls_catalog": catalog_pg.airflow_connection("catalog"),
                "hls_storage": storage.airflow_connection(),
            },
            variables={
                "hls_bucket": BUCKET,
                "hls_public_base_url": base_url,
                "hls_chunk_seconds": "6",
                "hls_tmp_dir": "",
                "hls_wave_size": str(movies),
                "hls_max_failure_rate": "1",
            },  # bad movies and faults are meant here
        )
        if small_disk is not None:  # the second worker works on a disk that can be filled
            small_disk.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(small_disk)], check=True)
            cluster.stop_worker(WORKERS[1])
            cluster.start_worker(WORKERS[1], small_disk)
        soak = Soak(movies=movies, bad=len(bad))
        started = time.monotonic()
        run_ids = [cluster.trigger(DAG_ID, {})]
        injector = Faults(
            cluster, storage=storage, catalog=catalog_pg, small_disk=small_disk, started=started, outages=outages
        )
        for name in faults:
            injector.inject(name, run_ids, soak)
        for run_id in run_ids:
            soak.runs[run_id] = cluster.wait_for_run(DAG_ID, run_id, timeout=3600)["state"]
        recovery = cluster.trigger(DAG_ID, {"resume": True})
        soak.runs[recovery] = cluster.wait_for_run(DAG_ID, recovery, timeout=3600)["state"]
        soak.wall_seconds = time.monotonic() - started
        soak.retries = sum(
            max(ti["try_number"] - 1, 0) for run_id in soak.runs for ti in cluster.movie_task_instances(run_id)
        )
        read_outcome(soak, catalog_pg.dsn("catalog"), bad, [m.id for m in seeded])
        soak.half_published = half_published(storage.client())
        return soak
    finally:
        if cluster.workers[WORKERS[1]] != usual_tmp:
            cluster.stop_worker(WORKERS[1])
            cluster.start_worker(WORKERS[1], usual_tmp)
        if small_disk is not None:
            subprocess.run(["umount", str(small_disk)], check=False)
        storage.stop()
        catalog_pg.stop()


def start_soak_cluster(root: Path, metadata: services.Postgres) -> airflow_cluster.Cluster:
    """A Celery cluster of the soak's own (``make soak``), its metadata on ``metadata``."""
    metadata.create_database(METADATA_DB)
    env = {
        **airflow_env.airflow_env(root / "cluster"),
        "HLS_MIGRATION_SCHEDULE": "",
        "HLS_RETRY_DELAY_SECONDS": "3",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",  # notice a dead worker quickly
    }
    return airflow_cluster.start_celery_cluster(
        root, metadata_dsn=f"{metadata.user}@{metadata.host}:{metadata.port}/{METADATA_DB}", pipeline_env=env
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs) after the run")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hls-soak-"))
    root.chmod(0o755)  # the private PostgreSQL runs as the postgres user
    metadata = services.connect_postgres(root / "metadata-pg")
    cluster = start_soak_cluster(root, metadata)
    try:
        soak = run_soak(root, cluster, movies=args.movies)
    finally:
        cluster.stop()
        metadata.drop_database(METADATA_DB)
        metadata.stop()
    print(soak.report())
    print(f"logs: {root}" if args.keep else "")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(root)], check=False)
    failed = (
        soak.lost
        or soak.bad_converted
        or soak.double_converted
        or soak.half_published
        or soak.claims_left
        or soak.open_attempts
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
