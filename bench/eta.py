"""How honest the migration view's ETA is: a wave of N movies, the ETA the view then shows for the
N movies left (the pace of that wave), against what the next wave of the same N movies took, on a
real Airflow (LocalExecutor), PostgreSQL and SeaweedFS.

    make bench-eta
    python -m bench.eta --movies 4 --seconds 6
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from devenv import airflow_cluster, airflow_env, media, services
from devenv.catalog_seed import SeedMovie, seed_catalog
from hls_operators.core.estimate import human_seconds
from hls_operators.edges.summary import load_summary
from hls_operators.settings import DAG_ID

RESULTS = Path(__file__).resolve().parent / "results"
BUCKET = "bench"
DATABASE = "hls_bench_eta"


def run_wave(cluster: airflow_cluster.Cluster, movies: int) -> float:
    """Trigger a wave of ``movies``; the seconds from trigger to the end of its run."""
    started = time.monotonic()
    run_id = cluster.trigger(DAG_ID, {"limit": movies})
    state = cluster.wait_for_run(DAG_ID, run_id, timeout=3600)["state"]
    if state != "success":
        raise SystemExit(f"wave {run_id} ended {state}: see {cluster.home / 'logs'}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--movies", type=int, default=4, help="movies per wave (two waves run)")
    parser.add_argument("--seconds", type=int, default=6, help="length of each 640x360 source")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-eta-") as scratch_dir:
        scratch = Path(scratch_dir)
        seaweed = services.start_seaweedfs(scratch / "seaweedfs")
        postgres = services.connect_postgres(scratch / "postgres")
        postgres.create_database(DATABASE)
        cluster = None
        try:
            client = seaweed.client()
            services.create_bucket(client, BUCKET)
            base_url = f"{seaweed.endpoint}/{BUCKET}"
            source = media.generate_movie(scratch / "movie.mp4", width=640, height=360, seconds=args.seconds)
            movies = [SeedMovie(i, f"Movie {i}", source) for i in range(1, 2 * args.movies + 1)]
            seed_catalog(postgres.dsn(DATABASE), client, bucket=BUCKET, public_base_url=base_url, movies=movies)
            env = airflow_env.airflow_env(
                scratch / "airflow",
                catalog_conn=postgres.airflow_connection(DATABASE),
                storage_conn=seaweed.airflow_connection(),
                variables={"hls_bucket": BUCKET, "hls_public_base_url": base_url},
            )
            env["HLS_MIGRATION_SCHEDULE"] = ""
            cluster = airflow_cluster.start_cluster(scratch / "airflow", pipeline_env=env, transcode_slots=2)
            first_wall = run_wave(cluster, args.movies)
            conn = psycopg2.connect(postgres.dsn(DATABASE))
            try:
                summary = load_summary(conn)
            finally:
                conn.close()
            if summary.eta_hours is None:
                raise SystemExit("the first wave left no pace to measure")
            eta_seconds = summary.eta_hours * 3600
            second_wall = run_wave(cluster, args.movies)
        finally:
            if cluster is not None:
                cluster.stop()
            seaweed.stop()
            postgres.drop_database(DATABASE)
            postgres.stop()

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "movies_per_wave": args.movies,
        "source_seconds": args.seconds,
        "first_wave_seconds": round(first_wall, 1),
        "first_wave_window_seconds": round(summary.pace.seconds, 1),
        "eta_seconds": round(eta_seconds, 1),
        "next_wave_seconds": round(second_wall, 1),
        "next_wave_over_eta": round(second_wall / eta_seconds, 2),
    }
    print(
        f"first wave: {args.movies} movies in {human_seconds(first_wall)} from its trigger "
        f"({human_seconds(summary.pace.seconds)} from its selection to its finish)"
    )
    print(
        f"ETA for the {summary.remaining} left: {human_seconds(eta_seconds)}; the next wave took {human_seconds(second_wall)}: "
        f"{result['next_wave_over_eta']}x the ETA"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "eta.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
