"""Segment-parallel encoding: one movie converted by a wave of ``hls_migration`` (its run of
``hls_convert_movie``, one mapped encode task per chunk) on a Celery cluster with one worker, then
with two, each worker pinned to a core of its own with taskset, in one run.

    make bench-scaling
    python -m bench.scaling --size 1280x720 --seconds 96 --chunk-seconds 12 --workers 1,2

Reports the transcode stage (first chunk encode started to package finished, from the ledger), the
whole run's wall time, each worker's busy time (the tasks it ran, from Airflow) and the speed-up
over one worker. Writes ``bench/results/scaling-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from devenv import airflow_cluster, airflow_env, media, services
from devenv.catalog_seed import SeedMovie, seed_catalog
from hls_operators.edges.sql import queries
from hls_operators.settings import DAG_ID

RESULTS = Path(__file__).resolve().parent / "results"
BUCKET = "bench-scaling"


def transcode_stage_seconds(steps: dict) -> float:
    """From the first chunk encode's start to the package step's end."""
    encodes = [step for name, step in steps.items() if name.startswith("encode_")]
    start = min(datetime.fromisoformat(step["started_at"]) for step in encodes)
    package = steps["package"]
    end = datetime.fromisoformat(package["started_at"]).timestamp() + package["seconds"]
    return end - start.timestamp()


def convert_with(
    workers: int,
    *,
    source: Path,
    movie_id: int,
    seaweed,
    postgres,
    scratch: Path,
    chunk_seconds: int,
    variables: dict[str, str],
) -> dict:
    database = f"hls_bench_scaling_{workers}"
    postgres.create_database(database)
    metadata = f"hls_bench_scaling_meta_{workers}"
    postgres.create_database(metadata)
    base_url = f"{seaweed.endpoint}/{BUCKET}"
    env = airflow_env.airflow_env(
        scratch / f"airflow-{workers}",
        catalog_conn=postgres.airflow_connection(database),
        storage_conn=seaweed.airflow_connection(),
        variables={
            "hls_bucket": BUCKET,
            "hls_public_base_url": base_url,
            "hls_chunk_seconds": str(chunk_seconds),
            **variables,
        },
    )
    env["HLS_MIGRATION_SCHEDULE"] = ""
    seed_catalog(
        postgres.dsn(database),
        seaweed.client(),
        bucket=BUCKET,
        public_base_url=base_url,
        movies=[SeedMovie(movie_id, "Scaling", source)],
    )
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
        # the movie's own tasks: the wave's convert task only waits (deferred, on the triggerer)
        instances = cluster.movie_task_instances(run["dag_run_id"])
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
    encodes = {name: round(step["seconds"], 1) for name, step in steps.items() if name.startswith("encode_")}
    encode_hosts = {f"encode_{ti['map_index']}": ti["hostname"] for ti in instances if ti["task_id"] == "encode"}
    busy = busy_seconds(instances)
    print(
        f"  {workers} worker(s): run {run['state']} in {wall:.0f} s, transcode stage {stage:.0f} s, "
        f"{len(encodes)} chunk encodes {encodes}, busy {busy} s",
        flush=True,
    )
    return {
        "workers": workers,
        "state": run["state"],
        "status": status,
        "run_wall_s": round(wall, 1),
        "transcode_stage_s": round(stage, 1),
        "chunk_encode_s": encodes,
        "steps_s": {name: round(step["seconds"], 1) for name, step in steps.items() if "seconds" in step},
        "encode_hosts": encode_hosts,
        "busy_s": busy,
    }


def busy_seconds(instances: list[dict]) -> dict[str, dict[str, float]]:
    """Per worker: seconds spent in chunk encodes, and in all the run's tasks."""
    busy: dict[str, dict[str, float]] = {}
    for ti in instances:
        if ti.get("hostname") and ti.get("duration"):
            host = busy.setdefault(ti["hostname"], {"encodes": 0.0, "all_tasks": 0.0})
            host["all_tasks"] = round(host["all_tasks"] + ti["duration"], 1)
            if ti["task_id"] == "encode":
                host["encodes"] = round(host["encodes"] + ti["duration"], 1)
    return dict(sorted(busy.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--seconds", type=float, default=96)
    parser.add_argument("--chunk-seconds", type=int, default=12, help="hls_chunk_seconds: 96 s makes 8 chunks of 12 s")
    parser.add_argument(
        "--workers", default="1,2", help="the cluster sizes to run, one after the other (the first is the baseline)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="hls_x=VALUE",
        help="a pipeline Variable, e.g. hls_x264_preset=ultrafast",
    )
    args = parser.parse_args()
    variables = dict(item.split("=", 1) for item in args.set)
    sizes = [int(n) for n in args.workers.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="hls-bench-scaling-") as scratch_name:
        scratch = Path(scratch_name)
        seaweed = services.start_seaweedfs(scratch / "seaweedfs")
        postgres = services.connect_postgres(scratch / "postgres")
        services.create_bucket(seaweed.client(), BUCKET)
        source = media.generate_movie(
            scratch / "source.mp4", width=width, height=height, seconds=args.seconds, noise=True
        )
        print(f"{args.seconds:.0f} s {width}x{height} source, chunks of about {args.chunk_seconds} s:", flush=True)
        try:
            runs = [
                convert_with(
                    workers,
                    source=source,
                    movie_id=workers,
                    seaweed=seaweed,
                    postgres=postgres,
                    scratch=scratch,
                    chunk_seconds=args.chunk_seconds,
                    variables=variables,
                )
                for workers in sizes
            ]
        finally:
            seaweed.stop()
            postgres.stop()
    baseline = runs[0]
    speedup = {
        run["workers"]: {
            "transcode_stage": round(baseline["transcode_stage_s"] / run["transcode_stage_s"], 2),
            "run_wall": round(baseline["run_wall_s"] / run["run_wall_s"], 2),
        }
        for run in runs[1:]
    }
    for workers, ratio in speedup.items():
        print(
            f"speed-up of {workers} pinned workers over {baseline['workers']}: transcode stage "
            f"{ratio['transcode_stage']}x, whole run {ratio['run_wall']}x"
        )
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"scaling-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    target.write_text(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "source": {"size": args.size, "seconds": args.seconds},
                "chunk_seconds": args.chunk_seconds,
                "variables": variables,
                "runs": runs,
                "speedup": speedup,
            },
            indent=2,
        )
    )
    print(f"written: {target}")


if __name__ == "__main__":
    main()
