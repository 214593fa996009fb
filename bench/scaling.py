"""Segment-parallel encoding: one movie converted by a Celery cluster with one worker, then with
two, each worker pinned to a core of its own with taskset, in one run.

    make bench-scaling
    python -m bench.scaling --size 1280x720 --seconds 60 --chunk-seconds 15

Reports the transcode stage (first chunk encode started to package finished, from the ledger) and
the whole run's wall time, and the speed-up of two workers over one. Writes
``bench/results/scaling-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg2
from hls_operators.edges.sql import queries
from hls_operators.settings import DAG_ID

from devenv import airflow_cluster, airflow_env, media, services
from devenv.catalog_seed import SeedMovie, seed_catalog

RESULTS = Path(__file__).resolve().parent / "results"
BUCKET = "bench-scaling"


def transcode_stage_seconds(steps: dict) -> float:
    """From the first chunk encode's start to the package step's end."""
    encodes = [step for name, step in steps.items() if name.startswith("encode_")]
    start = min(datetime.fromisoformat(step["started_at"]) for step in encodes)
    package = steps["package"]
    end = datetime.fromisoformat(package["started_at"]).timestamp() + package["seconds"]
    return end - start.timestamp()


def convert_with(workers: int, *, source: Path, movie_id: int, seaweed, postgres, scratch: Path, chunk_seconds: int) -> dict:
    database = f"hls_bench_scaling_{workers}"
    postgres.create_database(database)
    metadata = f"hls_bench_scaling_meta_{workers}"
    postgres.create_database(metadata)
    base_url = f"{seaweed.endpoint}/{BUCKET}"
    env = airflow_env.airflow_env(
        scratch / f"airflow-{workers}", catalog_conn=postgres.airflow_connection(database),
        storage_conn=seaweed.airflow_connection(),
        variables={"hls_bucket": BUCKET, "hls_public_base_url": base_url, "hls_chunk_seconds": str(chunk_seconds)},
    )  # fmt: skip
    env["HLS_MIGRATION_SCHEDULE"] = ""
    seed_catalog(postgres.dsn(database), seaweed.client(), bucket=BUCKET, public_base_url=base_url,
                 movies=[SeedMovie(movie_id, "Scaling", source)])  # fmt: skip
    broker, redis_process = airflow_cluster.redis_url(scratch / f"redis-{workers}")
    names = [f"worker-{i}" for i in range(workers)]
    cluster = airflow_cluster.start_cluster(
        scratch / f"cluster-{workers}",
        metadata_dsn=f"{postgres.user}@{postgres.host}:{postgres.port}/{metadata}",
        broker_url=broker,
        pipeline_env=env,
        workers={name: scratch / f"tmp-{workers}-{name}" for name in names},
        transcode_slots=workers,
        worker_concurrency=1,
        worker_cpus={name: core for core, name in enumerate(names)},
    )
    try:
        started = time.monotonic()
        run = cluster.run_dag(DAG_ID, {"movie_ids": [movie_id]}, timeout=3600)
        wall = time.monotonic() - started
        hosts = {ti["task_id"]: ti["hostname"] for ti in cluster.task_instances(DAG_ID, run["dag_run_id"])}
    finally:
        cluster.stop()
        if redis_process is not None:
            services.stop_process(redis_process)
    conn = psycopg2.connect(postgres.dsn(database))
    with conn, conn.cursor() as cur:
        cur.execute(queries("tools.sql")["latest_attempt_steps"], {"movie_id": movie_id})
        status, steps = cur.fetchone()
    conn.close()
    for name in (database, metadata):
        postgres.drop_database(name)
    stage = transcode_stage_seconds(steps)
    encodes = {name: round(step["seconds"], 1) for name, step in sorted(steps.items()) if name.startswith("encode_")}
    print(f"  {workers} worker(s): run {run['state']} in {wall:.0f} s, transcode stage {stage:.0f} s, "
          f"chunk encodes {encodes} on {sorted({hosts[f'convert.{n}'] for n in encodes})}", flush=True)  # fmt: skip
    return {
        "workers": workers, "state": run["state"], "status": status, "run_wall_s": round(wall, 1),
        "transcode_stage_s": round(stage, 1), "chunk_encode_s": encodes,
        "package_s": round(steps["package"]["seconds"], 1),
        "encode_hosts": {n: hosts[f"convert.{n}"] for n in encodes},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--chunk-seconds", type=int, default=15, help="hls_chunk_seconds: 60 s makes 4 chunks of 18, 18, 12 and 12 s")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="hls-bench-scaling-") as scratch_name:
        scratch = Path(scratch_name)
        seaweed = services.start_seaweedfs(scratch / "seaweedfs")
        postgres = services.connect_postgres(scratch / "postgres")
        services.create_bucket(seaweed.client(), BUCKET)
        source = media.generate_movie(scratch / "source.mp4", width=width, height=height, seconds=args.seconds, noise=True)
        print(f"{args.seconds:.0f} s {width}x{height} source, chunks of about {args.chunk_seconds} s:", flush=True)
        try:
            runs = [
                convert_with(workers, source=source, movie_id=workers, seaweed=seaweed, postgres=postgres,
                             scratch=scratch, chunk_seconds=args.chunk_seconds)  # fmt: skip
                for workers in (1, 2)
            ]
        finally:
            seaweed.stop()
            postgres.stop()
    one, two = runs
    speedup = {
        "transcode_stage": round(one["transcode_stage_s"] / two["transcode_stage_s"], 2),
        "run_wall": round(one["run_wall_s"] / two["run_wall_s"], 2),
    }
    print(f"\nspeed-up of 2 pinned workers over 1: transcode stage {speedup['transcode_stage']}x, whole run {speedup['run_wall']}x")
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"scaling-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    target.write_text(json.dumps({
        "cores": os.cpu_count(), "source": {"size": args.size, "seconds": args.seconds},
        "chunk_seconds": args.chunk_seconds, "runs": runs, "speedup": speedup,
    }, indent=2))  # fmt: skip
    print(f"written: {target}")


if __name__ == "__main__":
    main()
