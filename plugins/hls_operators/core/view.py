"""The migration view: what the ledger says about the whole migration, as one HTML page.

``edges.catalog.load_summary`` reads it from the ledger; ``render_page`` is pure, so the page is
unit-tested without a server. ``plugins/migration_view.py`` serves it in the Airflow UI.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from hls_operators.core.estimate import Estimate, human_bytes, human_seconds
from hls_operators.core.publishing import THUMBNAIL_DIR

RECENT_LIMIT = 12


@dataclass(frozen=True)
class Failure:
    error_class: str
    movies: int
    latest_message: str
    latest_movie_id: int


@dataclass(frozen=True)
class Conversion:
    movie_id: int
    title: str
    run_id: str
    dag_id: str
    master_url: str
    bytes: int
    source_seconds: float
    finished_at: datetime
    audio: list[dict] = field(default_factory=list)  # [{language, name, default}] as published
    subtitles: list[dict] = field(default_factory=list)  # [{language, name, forced}]
    not_carried: list[dict] = field(default_factory=list)  # source tracks that could not be carried over

    @property
    def tracks(self) -> str:
        """The languages a viewer can pick, in a few words: "audio en (default), fr; subtitles en, fr (forced)"."""

        def listed(tracks: list[dict], flag: str) -> str:
            return ", ".join((t.get("language") or t.get("name") or "?") + (f" ({flag})" if t.get(flag) else "") for t in tracks)

        parts = [f"audio {listed(self.audio, 'default')}" if self.audio else "no audio"]
        if self.subtitles:
            parts.append(f"subtitles {listed(self.subtitles, 'forced')}")
        if self.not_carried:
            parts.append("not carried over: " + ", ".join(f"{t['codec']} track {t['track']}" for t in self.not_carried))
        return "; ".join(parts)

    @property
    def thumbnail_url(self) -> str:
        return f"{self.master_url.rsplit('/', 1)[0]}/{THUMBNAIL_DIR}/thumb_000.jpg"


@dataclass(frozen=True)
class Summary:
    converted: int
    failed: int
    remaining: int
    bytes_published: int
    converted_last_day: int
    source_seconds_last_day: float
    dag_id: str  # the migration DAG, whose runs the page links to
    failures: list[Failure] = field(default_factory=list)
    recent: list[Conversion] = field(default_factory=list)
    hold: tuple[str, str, datetime] | None = None
    estimate: tuple[str, Estimate, datetime] | None = None

    @property
    def movies_per_hour(self) -> float:
        return self.converted_last_day / 24

    @property
    def eta_hours(self) -> float | None:
        """Hours until every remaining movie is converted at the last day's pace (None: no pace yet)."""
        return self.remaining / self.movies_per_hour if self.converted_last_day else None


def utc(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def run_link(dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow 3 UI."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2433; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; }
.totals { display: flex; gap: 1rem; flex-wrap: wrap; }
.total { border: 1px solid #d5dae3; border-radius: 8px; padding: .7rem 1rem; min-width: 9rem; }
.total b { display: block; font-size: 1.6rem; }
.hold { background: #fdecea; border: 1px solid #e0a39c; padding: .8rem 1rem; border-radius: 8px; }
table { border-collapse: collapse; } td, th { padding: .35rem .7rem; border-bottom: 1px solid #e3e6ec; text-align: left; }
img.thumb { width: 128px; border-radius: 4px; display: block; }
"""


def _section(title: str, table_id: str, headers: list[str], rows: list[list[str]], when_empty: str) -> list[str]:
    """A heading and a table of already-escaped cells, or a sentence when there is no row."""
    if not rows:
        return [f"<h2>{title}</h2>", f"<p>{when_empty}</p>"]
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr>"
    body = ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows]
    return [f"<h2>{title}</h2>", f"<table id='{table_id}'>{head}", *body, "</table>"]


def render_page(summary: Summary) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>HLS migration</title><style>{STYLE}</style></head><body>"]
    parts.append("<h1>HLS migration</h1>")
    if summary.hold:
        run_id, reason, held_at = summary.hold
        parts.append(
            f"<p class='hold' id='hold'><b>On hold</b> since {utc(held_at)} "
            f"(<a target='_top' href='{e(run_link(summary.dag_id, run_id))}'>{e(run_id)}</a>): {e(reason)}. "
            "The next run that selects movies itself asks for approval in Required Actions "
            "(or trigger one with <code>resume</code>).</p>"
        )
    eta = human_seconds(summary.eta_hours * 3600) if summary.eta_hours is not None else "no conversion in the last 24 h"
    totals = [
        ("converted", str(summary.converted)), ("failed", str(summary.failed)), ("remaining", str(summary.remaining)),
        ("published", human_bytes(summary.bytes_published)),
        ("last 24 h", f"{summary.converted_last_day} movies, {human_seconds(summary.source_seconds_last_day)} of video"),
        ("ETA", eta),
    ]  # fmt: skip
    parts.append("<div class='totals'>")
    parts += [f"<div class='total' id='total-{e(name.replace(' ', '-'))}'>{e(name)}<b>{e(value)}</b></div>" for name, value in totals]
    parts.append("</div>")

    failures = [
        [e(f.error_class or "unknown"), str(f.movies), f"movie {f.latest_movie_id}: {e(f.latest_message or '')}"]
        for f in summary.failures
    ]
    parts += _section("Failures by error class", "failures", ["class", "movies", "latest message"], failures, "No movie is failing.")
    recent = [
        [
            f"<img class='thumb' src='{e(c.thumbnail_url)}' alt=''>",
            f"{c.movie_id} {e(c.title)}<br><a href='{e(c.master_url)}'>master.m3u8</a>",
            f"{c.source_seconds:.0f} s", e(c.tracks), human_bytes(c.bytes or 0), utc(c.finished_at),
            f"<a target='_top' href='{e(run_link(c.dag_id, c.run_id))}'>{e(c.run_id)}</a>",
        ]  # fmt: skip
        for c in summary.recent
    ]
    headers = ["", "movie", "length", "languages", "published", "finished", "run"]
    parts += _section("Recent conversions", "recent", headers, recent, "Nothing converted yet.")

    parts.append("<h2>Latest dry-run estimate</h2>")
    if summary.estimate:
        run_id, estimate, created_at = summary.estimate
        parts.append(f"<p>Run <a target='_top' href='{e(run_link(summary.dag_id, run_id))}'>{e(run_id)}</a>, {utc(created_at)}</p>")
        parts.append("<ul id='estimate'>" + "".join(f"<li>{e(line)}</li>" for line in estimate.lines()) + "</ul>")
    else:
        parts.append(f"<p>No dry run yet: trigger <code>{e(summary.dag_id)}</code> with <code>dry_run</code> to get one.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
