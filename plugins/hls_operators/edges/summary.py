"""The migration view's reads from PostgreSQL: the page's summary and the refused movies.

The SQL lives in ``include/sql/view.sql``; every statement is parameterized.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hls_operators.core.errors import redacted
from hls_operators.core.estimate import Estimate
from hls_operators.core.view import RECENT_LIMIT, REFUSED_LIMIT, Conversion, Failure, Pace, Refused, Summary
from hls_operators.edges.ledger import BAD_INPUT_CLASSES
from hls_operators.edges.run_records import current_hold, latest_preflight
from hls_operators.edges.sql import queries
from hls_operators.settings import DAG_ID


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
