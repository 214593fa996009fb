"""Loads the SQL kept in ``include/sql/``: whole files (DDL) or named statements (``-- name: x``)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

# include/ sits beside plugins/ in the repository and in an Airflow deployment; HLS_SQL_DIR overrides.
SQL_DIR = Path(os.environ.get("HLS_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))
NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def sql_file(filename: str) -> str:
    return (SQL_DIR / filename).read_text()


@functools.cache
def queries(filename: str) -> dict[str, str]:
    """``{name: statement}`` for every ``-- name:`` section of a file."""
    parts = NAME_LINE.split(sql_file(filename))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}
