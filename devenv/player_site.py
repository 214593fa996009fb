"""The player page as a small static site: ``player/index.html``, hls.js and a ``movies.json`` of
the movies that play from HLS now, each with its source MP4, thumbnails and storyboard."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2

from hls_operators.core.layout import STORYBOARD_DIR, STORYBOARD_VTT, THUMBNAIL_DIR
from hls_operators.edges.sql import queries

REPO = Path(__file__).resolve().parents[1]
HLS_JS = REPO / "player" / "node_modules" / "hls.js" / "dist" / "hls.min.js"


def published_movies(dsn: str, client, bucket: str, public_base_url: str) -> list[dict]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(queries("view.sql")["published_movies"])
            rows = cur.fetchall()
    finally:
        conn.close()
    movies = []
    for movie_id, title, master_url, source_url, prefix in rows:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{THUMBNAIL_DIR}/thumb_")
        thumbnails = sorted(item["Key"] for item in listed.get("Contents", []))
        movies.append(
            {
                "id": movie_id,
                "title": title,
                "master_url": master_url,
                "source_url": source_url,
                "thumbnails": [f"{public_base_url}/{key}" for key in thumbnails],
                "storyboard": f"{master_url.rsplit('/', 1)[0]}/{STORYBOARD_DIR}/{STORYBOARD_VTT}",
            }
        )
    return movies


def build_site(folder: Path, movies: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "player" / "index.html", folder / "index.html")
    shutil.copy(HLS_JS, folder / "hls.min.js")
    (folder / "movies.json").write_text(json.dumps(movies, indent=2))
    return folder


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def serve_in_thread(folder: Path) -> ThreadingHTTPServer:
    """Serve ``folder`` on a free loopback port (``server.server_address``); ``shutdown()`` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
