"""``make demo``: convert a small demo catalog end to end and print how to watch the result.

Starts SeaweedFS, uses the PostgreSQL on 127.0.0.1:5432 or a private one, seeds the application's
``movies`` table, starts Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor),
triggers ``hls_migration``, prints one line per movie and serves the player page (SeaweedFS,
Airflow's UI and the page stay up so the run and the result can be watched; ``make demo-stop`` ends them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

from devenv import airflow_cluster, airflow_env, media, player_site, services
from devenv.catalog_seed import SeedMovie, seed_catalog
from hls_operators.edges.sql import queries
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import DAG_ID

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".demo"
DATABASE = "hls_demo"
BUCKET = "media"
S3_PORT = 8333
PLAYER_PORT = 8090


def pid_file(name: str) -> Path:
    """Where the process group of what the demo leaves running is kept, for ``make demo-stop``."""
    return STATE / f"{name}.pid"


def stop_previous() -> None:
    for pid_file in STATE.glob("*.pid"):
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            time.sleep(1)
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
        pid_file.unlink(missing_ok=True)


def serve_player(dsn: str, client, base_url: str) -> str:
    """Build the player page for the converted movies and serve it, detached, from another origin
    than the storage; returns its URL."""
    site = player_site.build_site(STATE / "site", player_site.published_movies(dsn, client, BUCKET, base_url))
    port = PLAYER_PORT if services.port_is_free(PLAYER_PORT) else services.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", services.LOOPBACK, "--directory", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    pid_file("player").write_text(str(process.pid))
    services.wait_for_port(port, 30, process)
    return f"http://{services.LOOPBACK}:{port}/"


def demo_movies(folder: Path) -> list[SeedMovie]:
    folder.mkdir(parents=True, exist_ok=True)
    broken = media.generate_movie(folder / "whole.mp4", width=640, height=360, seconds=4, faststart=False)
    return [
        SeedMovie(
            1,
            "Test pattern, 1080p with audio",
            media.generate_movie(folder / "pattern-1080p.mp4", width=1920, height=1080, seconds=12, noise=True),
        ),
        SeedMovie(
            2,
            "Phone clip, portrait 720x1280",
            media.generate_movie(folder / "portrait.mp4", width=720, height=1280, seconds=8),
        ),
        SeedMovie(
            3,
            "Silent film, 640x360, no audio",
            media.generate_movie(folder / "silent.mp4", width=640, height=360, seconds=6, audio=False),
        ),
        SeedMovie(4, "Flower (CC0 footage)", media.CC0_CLIPS["flower.mp4"]),
        SeedMovie(5, "Friday (CC0 footage, audio stream first)", media.CC0_CLIPS["friday.mp4"]),
        SeedMovie(6, "Broken upload (truncated MP4)", media.truncated_copy(broken, folder / "broken.mp4")),
        SeedMovie(7, "English and French audio, two subtitle tracks", media.multilingual_movie(folder / "film.mp4")),
    ]


def report(dsn: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(queries("tools.sql")["latest_attempt_per_movie"])
            return cur.fetchall()
    finally:
        conn.close()


def print_report(rows: list[tuple]) -> None:
    print(f"\n{'id':>3}  {'status':<10} {'rungs':<24} {'MB':>6}  title / master URL or error")
    for movie_id, title, status, error_class, message, ladder, size, url in rows:
        rungs = ",".join(r["name"] for r in ladder or [])
        megabytes = f"{size / 1e6:.1f}" if size else "-"
        print(f"{movie_id:>3}  {status or '-':<10} {rungs:<24} {megabytes:>6}  {title}")
        detail = url if status == "succeeded" else f"[{error_class}] {message}"
        print(f"{'':>47}{detail}")


def main() -> None:
    stop_previous()
    STATE.mkdir(exist_ok=True)
    port = S3_PORT if services.port_is_free(S3_PORT) else None
    seaweed = services.start_seaweedfs(STATE / "seaweedfs", s3_port=port)
    pid_file("seaweedfs").write_text(str(seaweed.process.pid))
    postgres = services.connect_postgres(STATE / "postgres")
    postgres.create_database(DATABASE)
    client = seaweed.client()
    services.create_bucket(client, BUCKET)
    ObjectStore(client, BUCKET).allow_origins(["*"])  # the player page is served from another origin
    base_url = f"{seaweed.endpoint}/{BUCKET}"

    print("generating demo movies ...")
    seed_catalog(
        postgres.dsn(DATABASE), client, bucket=BUCKET, public_base_url=base_url, movies=demo_movies(STATE / "media")
    )
    env = airflow_env.airflow_env(
        STATE / "airflow",
        catalog_conn=postgres.airflow_connection(DATABASE),
        storage_conn=seaweed.airflow_connection(),
        variables={"hls_bucket": BUCKET, "hls_public_base_url": base_url},
    )
    print("starting Airflow (api-server, scheduler, dag-processor, triggerer) ...")
    env["HLS_MIGRATION_SCHEDULE"] = ""  # the demo's run is the one triggered below
    (STATE / "airflow" / "airflow.db").unlink(missing_ok=True)  # a fresh metadata database, like the catalog's
    airflow = airflow_cluster.start_cluster(STATE / "airflow", pipeline_env=env, transcode_slots=2)
    for name, process in airflow.processes.items():
        pid_file(f"airflow-{name}").write_text(str(process.pid))
    started = time.monotonic()
    run_id = airflow.trigger(DAG_ID, {})
    print(
        f"running {DAG_ID} ({run_id}): one run of hls_convert_movie per movie; watch it in Airflow's UI at\n"
        f"  {airflow.api}/dags/{DAG_ID}  (user {airflow_cluster.ADMIN}, password {airflow.admin_password})"
    )
    state = airflow.wait_for_run(DAG_ID, run_id, timeout=3600)["state"]
    print(
        f"run finished in {time.monotonic() - started:.0f} s ({state}; movie 6 is a broken upload on purpose: "
        "refused as bad input and listed, which leaves a wave green; red means a person is needed)"
    )
    rows = report(postgres.dsn(DATABASE))
    print_report(rows)
    master = next((row[-1] for row in rows if row[2] == "succeeded"), "<master URL>")
    player = serve_player(postgres.dsn(DATABASE), client, base_url)
    print(
        f"""
Watch the converted movies beside their MP4, with a quality menu, thumbnails and seek previews
(the page, Airflow's UI on {airflow.api} and SeaweedFS on {seaweed.endpoint} stay up until `make demo-stop`):
  {player}
Or play one in any HLS player:
  ffplay {master}
  (or open a master URL in Safari, VLC or any HLS player)
Play it in hls.js in Chromium, switch levels, seek to the end, and keep a screenshot:
  node player/check_playback.mjs {master} .demo/playback.png
Catalog: psql "{postgres.dsn(DATABASE)}" -c 'SELECT id, video_url FROM movies'
Ledger:  psql "{postgres.dsn(DATABASE)}" -c 'SELECT movie_id, status, error_class FROM hls_conversions'
Status:  psql "{postgres.dsn(DATABASE)}" -c 'SELECT movie_id, state, progress, audio_languages, subtitle_languages FROM hls_movie_status'"""
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--stop"]:
        stop_previous()
    else:
        main()
