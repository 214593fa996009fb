"""Loads the SQL kept in ``include/sql/``: whole files (DDL) or named statements (``-- name: x``)."""

from __future__ import annotations

import functools
import re

from hls_operators.settings import sql_dir

NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def sql_file(filename: str) -> str:
    return (sql_dir() / filename).read_text()


@functools.cache
def queries(filename: str) -> dict[str, str]:
    """``{name: statement}`` for every ``-- name:`` section of a file."""
    parts = NAME_LINE.split(sql_file(filename))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}
