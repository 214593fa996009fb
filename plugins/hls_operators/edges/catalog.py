"""The catalog, claims and ledger in PostgreSQL, as plain functions over a DB-API connection.

Each function is one transaction: it commits on return and rolls back on error. The SQL lives in
``include/sql/``; every statement is parameterized.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from hls_operators.core.errors import BAD_INPUT, RETRYABLE, ErrorClass, MigrationError, redacted
from hls_operators.core.estimate import Estimate, ProbedMovie, measured_speed
from hls_operators.core.preflight import Preflight, Problem
from hls_operators.core.retirement import Retirement
from hls_operators.core.sweep import References
from hls_operators.core.view import RECENT_LIMIT, REFUSED_LIMIT, Conversion, Failure, Pace, Refused, Summary
from hls_operators.core.waves import Hold, MovieOutcome
from hls_operators.edges.sql import queries, sql_file
from hls_operators.settings import DAG_ID

BAD_INPUT_CLASSES = sorted(error_class.value for error_class in BAD_INPUT)
# Classes of a failure that is not retried: a step of the same try beside it joins its attempt.
FINAL_CLASSES = frozenset(c.value for c in ErrorClass if c not in RETRYABLE)


@dataclass(frozen=True)
class ClaimedMovie:
    movie_id: int
    source_url: str
    expected_url: str  # the catalog's video_url when claimed; the flip requires it unchanged


@dataclass(frozen=True)
class AttemptKey:
    """Identifies one movie's work within one DAG run, and which task try is writing."""

    dag_id: str
    run_id: str
    movie_id: int
    map_index: int = -1
    try_number: int = 1

    def params(self) -> dict[str, object]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "movie_id": self.movie_id,
            "map_index": self.map_index,
            "try_number": self.try_number,
        }


def _catalog(name: str) -> str:
    return queries("catalog.sql")[name]


def _ledger(name: str) -> str:
    return queries("ledger.sql")[name]


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
        cur.execute(_catalog("renew_claim"), {**vars(claimed), "run_id": run_id, "ttl_minutes": ttl_minutes})
        row = cur.fetchone()
    if row is None:
        raise MigrationError(ErrorClass.CLAIMED_ELSEWHERE, f"movie {claimed.movie_id} is claimed by another run")
    return ClaimedMovie(claimed.movie_id, *row)


def begin_step(conn, key: AttemptKey, step: str, *, source_url: str | None = None) -> int:
    """Ledger id of the attempt this step belongs to, opening a new attempt when needed.

    The running attempt continues unless it shows that this very step started in an earlier try
    and never finished: that try died without reporting (killed worker), so the attempt is closed
    as ``worker_lost`` and a new one opens. A step of a try whose attempt already failed for good
    (the thumbnails beside an encode that found the source truncated) joins that attempt, which
    stays failed: one refusal is one failed attempt. A later try (a retry, a clear) opens a new one.
    """
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("latest_attempt"), key.params())
        row = cur.fetchone()
        ledger_id = None
        if row is not None:
            row_id, _attempt, status, steps, error_class, tried = row
            earlier = steps.get(step)
            if status == "running" and earlier and earlier["try"] != key.try_number and "seconds" not in earlier:
                message = f"{step} try {earlier['try']} ended without reporting (worker lost)"
                cur.execute(
                    _ledger("fail_attempt"),
                    {"id": row_id, "error_class": ErrorClass.WORKER_LOST.value, "error_message": message},
                )
            elif status == "running":
                ledger_id = row_id
            elif status == "failed" and error_class in FINAL_CLASSES and key.try_number <= tried and earlier is None:
                ledger_id = row_id
        if ledger_id is None:
            cur.execute(_ledger("open_attempt"), {**key.params(), "source_url": source_url})
            ledger_id = cur.fetchone()[0]
        cur.execute(_ledger("start_step"), {**key.params(), "id": ledger_id, "step": step})
    return ledger_id


def _finish_params(ledger_id: int, step: str, seconds: float, fields: dict[str, object]) -> dict[str, object]:
    allowed = {"source_url", "probe", "ladder", "output_prefix", "master_url", "bytes", "segments", "status", "details"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unknown ledger fields: {sorted(unknown)}")
    params: dict[str, object] = {name: None for name in allowed}
    params.update(fields)
    for name in ("probe", "ladder", "details"):
        if params[name] is not None:
            params[name] = json.dumps(params[name])
    return {**params, "id": ledger_id, "step": step, "seconds": round(seconds, 3)}


def finish_step(conn, ledger_id: int, step: str, seconds: float, **fields: object) -> None:
    """Record a finished step and what it learned (``probe``, ``ladder``, ``bytes``, ``status`` ...)."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("finish_step"), _finish_params(ledger_id, step, seconds, fields))


def record_progress(
    conn, ledger_id: int, step: str, *, percent: float, speed: float | None, eta_seconds: float | None
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            _ledger("record_progress"),
            {
                "id": ledger_id,
                "step": step,
                "percent": round(percent, 1),
                "speed": speed,
                "eta_seconds": None if eta_seconds is None else round(eta_seconds),
            },
        )


def fail_attempt(conn, ledger_id: int, error: MigrationError) -> None:
    """Close a running attempt as failed. An attempt that already failed keeps its error, unless
    this one refuses the input and that one did not."""
    params = {"id": ledger_id, "error_class": error.error_class.value, "error_message": error.message}
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("fail_attempt"), params)
        if cur.rowcount == 0 and error.error_class in BAD_INPUT:
            cur.execute(_ledger("blame_the_input"), {**params, "bad_input": BAD_INPUT_CLASSES})


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
        cur.execute(_ledger("finish_step"), _finish_params(ledger_id, step, seconds, fields))


def finalize_attempt(conn, key: AttemptKey) -> str:
    """Close the movie's latest attempt in this run and release its claim; returns its status.

    An attempt still ``running`` here means a task died without reporting or never started.
    """
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("latest_attempt"), key.params())
        row = cur.fetchone()
        if row is None:
            cur.execute(_ledger("open_attempt"), {**key.params(), "source_url": None})
            row = (cur.fetchone()[0], 1, "running", {}, None, key.try_number)
        ledger_id, _attempt, status, steps, _error_class, _tried = row
        if status == "running":
            unfinished = [name for name, step in steps.items() if "seconds" not in step]
            message = (
                f"{', '.join(unfinished)} ended without reporting (worker lost)"
                if unfinished
                else "the movie's steps did not run (an upstream task failed before reporting)"
            )
            cur.execute(
                _ledger("fail_attempt"),
                {"id": ledger_id, "error_class": ErrorClass.WORKER_LOST.value, "error_message": message},
            )
            status = "failed"
        cur.execute(_catalog("release_claim"), {"movie_id": key.movie_id, "run_id": key.run_id})
    return status


def run_outcome(conn, *, dag_id: str, run_id: str) -> list[MovieOutcome]:
    """Each movie's latest attempt in a run."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("run_outcome"), {"dag_id": dag_id, "run_id": run_id})
        return [MovieOutcome(*row) for row in cur.fetchall()]


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


def dry_run_movies(conn, *, dag_id: str, run_id: str) -> list[ProbedMovie]:
    """What a dry run learned of each of its movies, for the estimate."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("dry_run_results"), {"dag_id": dag_id, "run_id": run_id})
        rows = cur.fetchall()
    movies = []
    for movie_id, status, error_class, probe, ladder in rows:
        if status == "dry_run":
            movies.append(
                ProbedMovie(movie_id, float(probe["duration"]), ladder, has_audio=probe.get("audio_index") is not None)
            )
        elif status == "failed":
            movies.append(ProbedMovie(movie_id, refused_as=error_class))
    return movies


def measured_transcode_cost(conn) -> tuple[float | None, int]:
    """(CPU seconds per encoded megapixel-second, how many transcodes it comes from) of recent ones."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("recent_transcode_costs"))
        transcodes = cur.fetchall()
    return measured_speed(transcodes), len(transcodes)


def save_estimate(conn, *, run_id: str, estimate: Estimate) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("save_estimate"), {"run_id": run_id, "estimate": json.dumps(estimate.to_dict())})


def start_wave(conn, *, dag_id: str, run_id: str) -> None:
    """The wave's window opens: its movies are being selected."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("start_wave"), {"dag_id": dag_id, "run_id": run_id})


def finish_wave(conn, *, dag_id: str, run_id: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("finish_wave"), {"dag_id": dag_id, "run_id": run_id})


def record_preflight(conn, *, dag_id: str, run_id: str, problems: list[Problem]) -> None:
    with conn, conn.cursor() as cur:
        params = {"dag_id": dag_id, "run_id": run_id, "problems": json.dumps([asdict(p) for p in problems])}
        cur.execute(_ledger("record_preflight"), params)


def latest_preflight(conn) -> Preflight | None:
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("latest_preflight"))
        row = cur.fetchone()
    return Preflight(*row[:3], [Problem(**p) for p in row[3]]) if row else None


def current_hold(conn) -> Hold | None:
    """The hold on new movies, or None."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("current_hold"))
        row = cur.fetchone()
    return Hold(*row) if row else None


def ask_to_lift_hold(conn, *, run_id: str | None) -> None:
    """``run_id`` waits for a person to lift the hold (None: nobody waits any more)."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("ask_to_lift_hold"), {"run_id": run_id})


def set_hold(conn, *, run_id: str, reason: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("set_hold"), {"run_id": run_id, "reason": reason})


def lift_hold(conn, *, set_by: str | None = None) -> tuple[str, str] | None:
    """Lift the hold, or only the one run ``set_by`` set; returns (run_id, reason) of what was lifted."""
    with conn, conn.cursor() as cur:
        cur.execute(_ledger("lift_hold"), {"run_id": set_by})
        return cur.fetchone()


def record_delivery(
    conn, *, movie_id: int, run_id: str, event: str, attempt: int, status_code: int | None, detail: str
) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            _ledger("record_delivery"),
            {
                "movie_id": movie_id,
                "run_id": run_id,
                "event": event,
                "attempt": attempt,
                "status_code": status_code,
                "detail": detail,
            },
        )


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


def load_summary(conn) -> Summary:
    """What the migration view shows, from the ledger (SQL in ``include/sql/view.sql``)."""
    named = queries("view.sql")
    with conn, conn.cursor() as cur:
        cur.execute(named["totals"], {"bad_input": BAD_INPUT_CLASSES})
        converted, refused, failed, remaining, published = cur.fetchone()
        cur.execute(named["throughput"])
        last_day, seconds_last_day = cur.fetchone()
        cur.execute(named["failures_by_class"], {"bad_input": BAD_INPUT_CLASSES})
        failures = [Failure(*row) for row in cur.fetchall()]
        cur.execute(named["recent_conversions"], {"limit": RECENT_LIMIT})
        recent = [Conversion(*row[:1], row[1] or "", *row[2:]) for row in cur.fetchall()]
        cur.execute(named["latest_estimate"])
        row = cur.fetchone()
        cur.execute(named["latest_wave_pace"], {"dag_id": DAG_ID})
        wave = cur.fetchone()
    estimate = (row[0], Estimate(**row[1]), row[2]) if row else None
    pace = Pace(wave[0], wave[1], (wave[3] - wave[2]).total_seconds(), wave[3]) if wave else None
    return Summary(
        converted,
        refused,
        failed,
        remaining,
        int(published),
        last_day,
        seconds_last_day,
        DAG_ID,
        datetime.now(UTC),
        failures=failures,
        refused_movies=refused_movies(conn, limit=REFUSED_LIMIT),
        recent=recent,
        hold=current_hold(conn),
        estimate=estimate,
        pace=pace,
        preflight=latest_preflight(conn),
    )


def refused_movies(conn, *, limit: int | None = None) -> list[Refused]:
    """Movies still on an MP4 whose source was refused as bad input, newest first (None: all)."""
    with conn, conn.cursor() as cur:
        cur.execute(queries("view.sql")["refused"], {"bad_input": BAD_INPUT_CLASSES, "limit": limit})
        rows = cur.fetchall()
    return [
        Refused(movie_id, title or "", error_class, message or "", redacted(url or ""), at)
        for movie_id, title, error_class, message, url, at in rows
    ]
