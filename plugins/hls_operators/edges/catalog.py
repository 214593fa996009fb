"""The application's movies and the pipeline's claims on them in PostgreSQL, as plain functions over a
DB-API connection: selection and claims, the flip and the rollback, each movie's status, and what
the sweep and the retirement of originals must leave alone.

Each function is one transaction: it commits on return and rolls back on error. The SQL lives in
``include/sql/catalog.sql``; every statement is parameterized.
"""

from __future__ import annotations

from dataclasses import asdict

import psycopg2

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import ClaimedMovie
from hls_operators.core.retirement import Retirement
from hls_operators.core.sweep import References
from hls_operators.edges.ledger import BAD_INPUT_CLASSES, AttemptKey, finish_params
from hls_operators.edges.sql import queries, sql_file

# What a call to the catalog raises when the database fails it, for callers that carry on without it.
CatalogError = psycopg2.Error


def _ledger(name: str) -> str:
    return queries("ledger.sql")[name]


def _catalog(name: str) -> str:
    return queries("catalog.sql")[name]


def ensure_schema(conn) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql_file("schema.sql"))


def claim_movies(
    conn, *, run_id: str, movie_ids: list[int] | None, limit: int, force: bool, ttl_minutes: int, dry_run: bool
) -> list[ClaimedMovie]:
    """Select and claim up to ``limit`` movies; a dry run selects the same way but keeps no claim."""
    params = {
        "run_id": run_id,
        "movie_ids": movie_ids,
        "limit": limit,
        "force": force,
        "ttl_minutes": ttl_minutes,
        "bad_input_classes": BAD_INPUT_CLASSES,
    }
    with conn.cursor() as cur:
        try:
            cur.execute(_catalog("claim_movies"), params)
            rows = cur.fetchall()
        except BaseException:
            conn.rollback()
            raise
    if dry_run:
        conn.rollback()
    else:
        conn.commit()
    return [ClaimedMovie(*row) for row in rows]


def renew_claim(conn, claimed: ClaimedMovie, *, run_id: str, ttl_minutes: int) -> ClaimedMovie:
    """Keep this run's claim alive, or take it again when it was released (a cleared task re-runs a
    movie whose attempt was closed); fail with ``claimed_elsewhere`` if another run has the movie."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("renew_claim"), {**claimed.to_dict(), "run_id": run_id, "ttl_minutes": ttl_minutes})
        row = cur.fetchone()
    if row is None:
        raise MigrationError(ErrorClass.CLAIMED_ELSEWHERE, f"movie {claimed.movie_id} is claimed by another run")
    return ClaimedMovie(claimed.movie_id, *row)


def flip_to_hls(
    conn,
    *,
    ledger_id: int,
    step: str,
    seconds: float,
    movie_id: int,
    expected_url: str,
    master_url: str,
    bytes_published: int,
    segments: int,
) -> None:
    """Point ``video_url`` at the master and mark the attempt succeeded, in one transaction."""
    with conn, conn.cursor() as cur:
        cur.execute(
            _catalog("flip_video_url"), {"movie_id": movie_id, "expected_url": expected_url, "master_url": master_url}
        )
        if cur.fetchone() is None:
            raise MigrationError(
                ErrorClass.CATALOG_CHANGED,
                f"movie {movie_id}: video_url no longer equals {expected_url!r}; the application's edit stands",
            )
        fields = {"master_url": master_url, "bytes": bytes_published, "segments": segments, "status": "succeeded"}
        cur.execute(_ledger("finish_step"), finish_params(ledger_id, step, seconds, fields))


def published_master(conn, movie_id: int) -> str | None:
    """The master URL the movie plays from now, when it plays from one of our conversions."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("published_conversion"), {"movie_id": movie_id})
        row = cur.fetchone()
    return None if row is None else row[2]


def roll_back(conn, key: AttemptKey) -> str | None:
    """Restore the MP4 URL of a movie on HLS and ledger it; returns the restored URL, or None when
    the movie's video_url is not a published conversion (nothing to roll back)."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("published_conversion"), {"movie_id": key.movie_id})
        row = cur.fetchone()
        if row is None:
            return None
        _conversion_id, source_url, master_url, prefix = row
        cur.execute(
            _catalog("rollback_video_url"),
            {"movie_id": key.movie_id, "source_url": source_url, "master_url": master_url},
        )
        if cur.fetchone() is None:
            return None
        cur.execute(
            _ledger("record_rollback"),
            {**key.params(), "source_url": source_url, "master_url": master_url, "output_prefix": prefix},
        )
    return source_url


def sweep_references(conn) -> References:
    """What may still point at a stored set (see ``core/sweep.py``)."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("referenced_urls"))
        urls = frozenset(row[0] for row in cur.fetchall())
        cur.execute(_catalog("kept_conversions"))
        kept = frozenset((movie_id, prefix.rstrip("/").rsplit("/", 1)[-1]) for movie_id, prefix in cur.fetchall())
        cur.execute(_catalog("claimed_movies"))
        claimed = frozenset(row[0] for row in cur.fetchall())
    return References(catalog_urls=urls, kept_versions=kept, claimed_movies=claimed)


def retirement_candidates(
    conn, *, grace_seconds: float, movie_ids: list[int] | None
) -> list[tuple[int, str, str, float]]:
    """(movie, MP4 URL, output prefix, source seconds) of each ready movie whose conversion has
    played for ``grace_seconds``."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("retirement_candidates"), {"grace_seconds": grace_seconds, "movie_ids": movie_ids})
        return cur.fetchall()


def mp4_references(conn) -> list[tuple[int, str, str]]:
    """(movie, what: video, trailer or rollback point, URL) of every URL the catalog plays or may
    roll back to."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("mp4_references"))
        return cur.fetchall()


def record_retirement(conn, *, run_id: str, retirement: Retirement) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("record_retirement"), {"run_id": run_id, **asdict(retirement)})


def latest_retirement(conn, movie_id: int) -> Retirement | None:
    """The movie's archived original while it is retired (None: not retired, or restored since)."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("latest_retirement"), {"movie_id": movie_id})
        row = cur.fetchone()
    return None if row is None else Retirement(movie_id, "retired", *row)


STATUS_FIELDS = (
    "movie_id",
    "state",
    "progress",
    "step",
    "error_class",
    "error_message",
    "master_url",
    "audio_languages",
    "subtitle_languages",
    "updated_at",
)


def movie_status(conn, movie_id: int) -> dict | None:
    """A movie's row of ``hls_movie_status``, JSON-safe (None: the pipeline has not seen it)."""
    with conn, conn.cursor() as cur:
        cur.execute(_catalog("movie_status"), {"movie_id": movie_id})
        row = cur.fetchone()
    if row is None:
        return None
    status = dict(zip(STATUS_FIELDS, row))
    status["updated_at"] = status["updated_at"].isoformat() if status["updated_at"] else None
    return status


def read_error(error: BaseException) -> MigrationError | None:
    """A connection to the catalog lost or refused (a restart, a failover): retried."""
    if isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return MigrationError(ErrorClass.CATALOG_UNAVAILABLE, str(error))
    return None
