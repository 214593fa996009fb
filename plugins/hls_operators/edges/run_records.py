"""What runs keep about themselves in PostgreSQL: each wave's window, its dry-run estimate, its
preflight, and the hold a wave sets when it fails too often.

Each function is one transaction: it commits on return and rolls back on error. The SQL lives in
``include/sql/ledger.sql``; every statement is parameterized.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from hls_operators.core.estimate import Estimate
from hls_operators.core.preflight import Preflight, Problem
from hls_operators.core.waves import Hold
from hls_operators.edges.sql import queries


def _ledger(name: str) -> str:
    return queries("ledger.sql")[name]


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
