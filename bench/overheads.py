"""What the pipeline adds around ffmpeg, measured on real services in one run:

- per movie: a whole ``airflow dags test`` run of ``hls_convert_movie`` (the run a wave starts for
  each of its movies), minus ffmpeg's time in its
  transcode (what remains: Airflow, storage hand-offs, probing, thumbnails, upload, verification
  and the database), for a 1-minute and a 10-minute source; also net of what the same run costs
  with no movie in it, which a wave's movies share;
- uploads: one movie's worth of segments to SeaweedFS with ``hls_upload_concurrency`` parallel
  uploads against one at a time, on loopback and through a link that adds a bucket's round trip;
- selection: the claim query on a 100,000-movie catalog with a ledger, run and rolled back.

    make bench-overheads
    python -m bench.overheads --size 1280x720 --minutes 1,10 --source-mbps 8 --round-trips 0,20,50
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2

from bench.latency import DelayedLink
from devenv import airflow_env, media, services
from devenv.catalog_seed import SeedMovie, seed_catalog
from hls_operators.edges import catalog
from hls_operators.edges.sql import queries, sql_file
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import CONVERT_DAG_ID, DAG_ID, Settings

RESULTS = Path(__file__).resolve().parent / "results"
BUCKET = "bench"
NO_SUCH_MOVIE = 2_000_000_000


def per_movie_overhead(
    seaweed, postgres, scratch: Path, size: tuple[int, int], minutes: list[float], source_mbps: float
) -> dict:
    """Each source in a run of its own; the same run with no movie in it (the CLI's start, the DAG's
    parse, selection and finish) is what a run costs however many movies its wave holds."""
    database = "hls_bench_overheads"
    postgres.create_database(database)
    client = seaweed.client()
    services.create_bucket(client, BUCKET)
    base_url = f"{seaweed.endpoint}/{BUCKET}"
    env = airflow_env.airflow_env(
        scratch / "airflow",
        catalog_conn=postgres.airflow_connection(database),
        storage_conn=seaweed.airflow_connection(),
        variables={"hls_bucket": BUCKET, "hls_public_base_url": base_url},
    )
    airflow_env.migrate(env)
    movies = [
        SeedMovie(
            movie_id,
            f"{length} min",
            media.generate_movie(
                scratch / f"{movie_id}.mp4",
                width=size[0],
                height=size[1],
                seconds=length * 60,
                noise=True,
                video_kbps=int(source_mbps * 1000),
            ),
        )
        for movie_id, length in enumerate(minutes, start=1)
    ]
    seed_catalog(postgres.dsn(database), client, bucket=BUCKET, public_base_url=base_url, movies=movies)
    empty_runs = []
    for _ in range(2):  # the first one also compiles and caches what the later runs reuse
        started = time.monotonic()
        airflow_env.airflow(env, "dags", "test", CONVERT_DAG_ID, "-c", json.dumps({"movie_id": NO_SUCH_MOVIE}))
        empty_runs.append(time.monotonic() - started)
    run_cost = min(empty_runs)
    print(f"  a run with no movie: {run_cost:.1f} s", flush=True)
    results = []
    for movie, length in zip(movies, minutes):
        movie_id, source = movie.id, movie.source
        started = time.monotonic()
        airflow_env.airflow(env, "dags", "test", CONVERT_DAG_ID, "-c", json.dumps({"movie_id": movie_id}))
        wall = time.monotonic() - started
        conn = psycopg2.connect(postgres.dsn(database))
        with conn, conn.cursor() as cur:
            cur.execute(queries("tools.sql")["latest_attempt_steps"], {"movie_id": movie_id})
            status, steps = cur.fetchone()
        conn.close()
        # The transcode: ffmpeg's own time in the chunk encodes (one after another under `dags test`)
        # and the package step; the hand-offs through storage around it count as overhead.
        transcode_steps = [step for name, step in steps.items() if name.startswith("encode_") or name == "package"]
        transcode = sum(step["ffmpeg_seconds"] for step in transcode_steps)
        handoffs = sum(step["seconds"] for step in transcode_steps) - transcode
        movie_wall = wall - run_cost
        results.append(
            {
                "source_minutes": length,
                "size": f"{size[0]}x{size[1]}",
                "source_mbps": round(source.stat().st_size * 8 / length / 60e6, 1),
                "status": status,
                "run_wall_s": round(wall, 1),
                "transcode_s": round(transcode, 1),
                "transcode_handoffs_s": round(handoffs, 1),
                "overhead_s": round(wall - transcode, 1),
                "overhead_share": round((wall - transcode) / wall, 4),
                "movie_wall_s": round(movie_wall, 1),
                "movie_overhead_s": round(movie_wall - transcode, 1),
                "movie_overhead_share": round((movie_wall - transcode) / movie_wall, 4),
                "steps_s": {name: round(step.get("seconds", 0), 1) for name, step in steps.items()},
            }
        )
        print(
            f"  {length} min: run {wall:.0f} s, transcode {transcode:.0f} s, overhead {wall - transcode:.0f} s "
            f"({(wall - transcode) / wall:.1%}); without the run's own {run_cost:.0f} s: overhead "
            f"{movie_wall - transcode:.0f} s ({(movie_wall - transcode) / movie_wall:.1%}), of which "
            f"{handoffs:.0f} s in the transcode tasks around ffmpeg",
            flush=True,
        )
    return {
        "run_without_movies_s": round(run_cost, 1),
        "empty_runs_s": [round(t, 1) for t in empty_runs],
        "movies": results,
    }


def upload_speedup(seaweed, scratch: Path, segments: int, segment_bytes: int, round_trip_ms: float) -> dict:
    """``segments`` uploads one at a time, then ``hls_upload_concurrency`` at a time; with a round
    trip above 0, through a link that adds it (the client's CPU then includes the link's)."""
    concurrency = Settings.from_values({"bucket": BUCKET, "public_base_url": "http://x"}).upload_concurrency
    folder = scratch / "segments"
    folder.mkdir(exist_ok=True)
    files = []
    for index in range(segments):
        path = folder / f"seg_{index:05d}.ts"
        if not path.exists():
            path.write_bytes(os.urandom(segment_bytes))
        files.append(path)
    link = DelayedLink(seaweed.s3_port, round_trip_ms) if round_trip_ms else None
    store = ObjectStore(seaweed.client(f"http://127.0.0.1:{link.port}" if link else None), BUCKET)
    timings, cpu = {}, {}
    try:
        for parallel in (1, concurrency):
            client_before, server_before, started = (
                process_cpu("self"),
                process_cpu(seaweed.process.pid),
                time.monotonic(),
            )
            uploads = [
                (p, f"upload-bench/{round_trip_ms}/{parallel}/{p.name}", {"ContentType": "video/mp2t"}) for p in files
            ]
            store.upload_many(uploads, parallel)
            timings[parallel] = time.monotonic() - started
            cpu[parallel] = {
                "client_s": round(process_cpu("self") - client_before, 2),
                "seaweedfs_s": round(process_cpu(seaweed.process.pid) - server_before, 2),
            }
    finally:
        if link:
            link.close()
    # The fastest any concurrency can go when the client and SeaweedFS share this machine's cores.
    cpu_bound_s = sum(cpu[concurrency].values()) / os.cpu_count()
    result = {
        "round_trip_ms": round_trip_ms,
        "segments": segments,
        "megabytes": segments * segment_bytes / 1e6,
        "sequential_s": round(timings[1], 2),
        "concurrency": concurrency,
        "parallel_s": round(timings[concurrency], 2),
        "speedup": round(timings[1] / timings[concurrency], 2),
        "cpu_s": cpu,
        "cpu_bound_s": round(cpu_bound_s, 2),
    }
    print(
        f"  {segments} x {segment_bytes / 1e6:.1f} MB, round trip {round_trip_ms:g} ms: sequential {timings[1]:.1f} s, "
        f"{concurrency} parallel {timings[concurrency]:.1f} s ({result['speedup']:.1f}x); CPU client "
        f"{cpu[concurrency]['client_s']} s + SeaweedFS {cpu[concurrency]['seaweedfs_s']} s = at least "
        f"{cpu_bound_s:.1f} s on {os.cpu_count()} cores",
        flush=True,
    )
    return result


def process_cpu(pid: int | str) -> float:
    """User plus system CPU seconds of a process (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def selection_time(postgres, movies: int, runs: int = 5) -> dict:
    """The claim query, run and rolled back, on a catalog of ``movies`` rows: a third converted, some
    failed, the rest MP4s."""
    database = "hls_bench_selection"
    postgres.create_database(database)
    conn = psycopg2.connect(postgres.dsn(database))
    with conn, conn.cursor() as cur:
        cur.execute(sql_file("movies.sql"))
        cur.execute(queries("tools.sql")["bench_catalog"], {"movies": movies})
    catalog.ensure_schema(conn)
    with conn, conn.cursor() as cur:
        cur.execute(queries("tools.sql")["bench_ledger"], {"movies": movies, "dag_id": DAG_ID})
        cur.execute(queries("tools.sql")["analyze"])
    timings = []
    for run in range(runs):
        started = time.monotonic()
        claimed = catalog.claim_movies(
            conn, run_id=f"bench-{run}", movie_ids=None, limit=50, force=False, ttl_minutes=60, dry_run=True
        )
        timings.append(time.monotonic() - started)
    median = statistics.median(timings)
    print(f"  {movies} movies: claim of {len(claimed)} in {median * 1000:.0f} ms (median of {runs})", flush=True)
    status = status_read_time(conn, movies, runs)
    conn.close()
    return {
        "movies": movies,
        "claimed": len(claimed),
        "median_ms": round(median * 1000, 1),
        "runs_ms": [round(t * 1000, 1) for t in timings],
        "status": status,
    }


def status_read_time(conn, movies: int, runs: int) -> dict:
    """What the application pays to read ``hls_movie_status``: one movie's row (its badge), against
    the whole view's counts by state (the admin panel's totals) as the baseline, in the same run."""

    def median_ms(read) -> float:
        timings = []
        for run in range(runs):
            started = time.monotonic()
            read(run)
            timings.append(time.monotonic() - started)
        return round(statistics.median(timings) * 1000, 2)

    def one_movie(run: int) -> None:
        catalog.movie_status(conn, 3 * (run + 1) * 1009 % movies or 3)

    def counts(_run: int) -> None:
        with conn, conn.cursor() as cur:
            cur.execute(queries("tools.sql")["status_counts"])
            cur.fetchall()

    with conn, conn.cursor() as cur:
        cur.execute(queries("tools.sql")["explain_movie_status"], {"movie_id": 3})
        plan = "\n".join(row[0] for row in cur.fetchall())
    one, whole = median_ms(one_movie), median_ms(counts)
    print(
        f"  status of one movie {one} ms, counts by state over all {whole} ms ({whole / one:.0f}x the one movie's); "
        f"index-backed: {'hls_conversions_movie_latest' in plan}",
        flush=True,
    )
    return {"one_movie_ms": one, "counts_ms": whole, "index_backed": "hls_conversions_movie_latest" in plan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720", help="source size for the per-movie runs")
    parser.add_argument("--minutes", default="1,10", help="source lengths for the per-movie runs")
    parser.add_argument("--source-mbps", type=float, default=8, help="the sources' video bitrate, in Mbit/s")
    parser.add_argument("--round-trips", default="0,20,50", help="round trips to the bucket, in ms, for the uploads")
    parser.add_argument("--catalog", type=int, default=100_000, help="movies in the selection benchmark")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="hls-bench-") as scratch_name:
        scratch = Path(scratch_name)
        seaweed = services.start_seaweedfs(scratch / "seaweedfs")
        postgres = services.connect_postgres(scratch / "postgres")
        try:
            print("selection:", flush=True)
            selection = selection_time(postgres, args.catalog)
            print("uploads:", flush=True)
            services.create_bucket(seaweed.client(), BUCKET)
            uploads = [
                upload_speedup(seaweed, scratch, segments=150, segment_bytes=1_000_000, round_trip_ms=float(rtt))
                for rtt in args.round_trips.split(",")
            ]
            print("per movie:", flush=True)
            minutes = [float(m) for m in args.minutes.split(",")]
            movies = per_movie_overhead(seaweed, postgres, scratch, size, minutes, args.source_mbps)
        finally:
            for database in ("hls_bench_selection", "hls_bench_overheads"):
                postgres.drop_database(database)
            seaweed.stop()
            postgres.stop()
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"overheads-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    target.write_text(
        json.dumps({"cores": os.cpu_count(), "selection": selection, "uploads": uploads, "per_movie": movies}, indent=2)
    )
    print(f"\nwritten: {target}")


if __name__ == "__main__":
    main()
