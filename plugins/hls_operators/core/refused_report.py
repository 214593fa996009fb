"""The refused movies as CSV, for the catalog's owners (``GET /hls-migration/refused.csv``): every
movie refused as bad input, with its class and message, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC

from hls_operators.core.view import Refused

# A cell a spreadsheet would read as a formula (a title such as "=HYPERLINK(...)") starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def refused_csv(refused: list[Refused]) -> str:
    """Every refused movie as CSV for the catalog's owners; a text cell that a spreadsheet would
    run as a formula is prefixed with an apostrophe."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return "'" + text if isinstance(value, str) and text.startswith(FORMULA_STARTS) else text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["movie_id", "title", "error_class", "error_message", "source_url", "refused_at"])
    for r in refused:
        at = r.refused_at.astimezone(UTC).isoformat() if r.refused_at else ""
        writer.writerow([r.movie_id, cell(r.title), cell(r.error_class), cell(r.message), cell(r.source_url), at])
    return out.getvalue()
