"""A catalog to convert: the application's ``movies`` table, filled, with its MP4s in the bucket."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg2

from hls_operators.edges.sql import queries, sql_file


@dataclass(frozen=True)
class SeedMovie:
    id: int
    title: str
    source: Path | None  # uploaded as uploads/{id}/{source.name}; None: video_url given as is
    video_url: str = ""
    is_active: bool = True
    slug: str = ""  # default: movie-{id}


def seed_catalog(dsn: str, client, *, bucket: str, public_base_url: str, movies: list[SeedMovie]) -> dict[int, str]:
    """Create ``movies``, upload each source and insert its row; returns ``{id: video_url}``."""
    urls = {}
    for movie in movies:
        if movie.source is not None:
            key = f"uploads/{movie.id}/{movie.source.name}"
            client.upload_file(str(movie.source), bucket, key, ExtraArgs={"ContentType": "video/mp4"})
            urls[movie.id] = f"{public_base_url.rstrip('/')}/{key}"
        else:
            urls[movie.id] = movie.video_url
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql_file("movies.sql"))
            for order, movie in enumerate(movies):
                cur.execute(
                    queries("tools.sql")["seed_movie"],
                    {
                        "id": movie.id,
                        "title": movie.title,
                        "slug": movie.slug or f"movie-{movie.id}",
                        "video_url": urls[movie.id],
                        "is_active": movie.is_active,
                        "minutes_ago": len(movies) - order,
                    },
                )
    finally:
        conn.close()
    return urls
