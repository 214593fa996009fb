"""The ledger in PostgreSQL: one row per attempt per movie, its steps, its outcome, and the webhook's
deliveries, as plain functions over a DB-API connection.

Each function is one transaction: it commits on return and rolls back on error. The SQL lives in
``include/sql/ledger.sql``; every statement is parameterized.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hls_operators.core.errors import BAD_INPUT, RETRYABLE, ErrorClass, MigrationError
from hls_operators.core.estimate import ProbedMovie, measured_speed
from hls_operators.core.waves import MovieOutcome
from hls_operators.edges.sql import queries

BAD_INPUT_CLASSES = sorted(error_class.value for error_class in BAD_INPUT)
# Classes of a failure that is not retried: a step of the same try beside it joins its attempt.
FINAL_CLASSES = frozenset(c.value for c in ErrorClass if c not in RETRYABLE)


def _catalog(name: str) -> str:
    return queries("catalog.sql")[name]


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


def _ledger(name: str) -> str:
    return queries("ledger.sql")[name]


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


def finish_params(ledger_id: int, step: str, seconds: float, fields: dict[str, object]) -> dict[str, object]:
    """The parameters of ``finish_step`` (the flip closes its step with them in its own transaction)."""
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
        cur.execute(_ledger("finish_step"), finish_params(ledger_id, step, seconds, fields))


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
