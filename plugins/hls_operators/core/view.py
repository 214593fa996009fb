"""The migration view: what the ledger says about the whole migration, as one HTML page.

``edges.summary.load_summary`` reads it from the ledger; ``render_page`` is pure, so the page is
unit-tested without a server. ``plugins/migration_view.py`` serves it in the Airflow UI.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from hls_operators.core.estimate import Estimate, human_bytes, human_seconds
from hls_operators.core.layout import THUMBNAIL_DIR
from hls_operators.core.preflight import Preflight
from hls_operators.core.waves import Hold

RECENT_LIMIT = 12
REFUSED_LIMIT = 20  # on the page; the CSV has every refused movie
# Where a person answers a held wave's question in the Airflow 3 UI.
REQUIRED_ACTIONS = "/required_actions?response_received=false"


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
    rungs: list[dict] = field(default_factory=list)  # the video rungs published (``Rung.to_dict``)

    @property
    def tracks(self) -> str:
        """The languages a viewer can pick, in a few words: "audio en (default), fr; subtitles en, fr (forced)"."""

        def listed(tracks: list[dict], flag: str) -> str:
            return ", ".join(
                (t.get("language") or t.get("name") or "?") + (f" ({flag})" if t.get(flag) else "") for t in tracks
            )

        parts = [f"audio {listed(self.audio, 'default')}" if self.audio else "no audio"]
        if self.subtitles:
            parts.append(f"subtitles {listed(self.subtitles, 'forced')}")
        if self.not_carried:
            parts.append("not carried over: " + ", ".join(f"{t['codec']} track {t['track']}" for t in self.not_carried))
        return "; ".join(parts)

    @property
    def picture(self) -> str:
        """Each published rung's bitrate and, where the per-title probe ran, the VMAF it expected:
        "1080p 2.1 Mbit/s VMAF 95.6, 360p 0.8 Mbit/s VMAF 78.2"."""
        return ", ".join(
            f"{r['name']} {r['video_kbps'] / 1000:.1f} Mbit/s"
            + (f" VMAF {r['quality']:.1f}" if r.get("quality") else "")
            for r in self.rungs
        )

    @property
    def thumbnail_url(self) -> str:
        return f"{self.master_url.rsplit('/', 1)[0]}/{THUMBNAIL_DIR}/thumb_000.jpg"


@dataclass(frozen=True)
class Refused:
    """A movie whose source was refused as bad input: a line of the report for the catalog's owners."""

    movie_id: int
    title: str
    error_class: str
    message: str
    source_url: str  # redacted: no query string, no userinfo
    refused_at: datetime | None


@dataclass(frozen=True)
class Pace:
    """How fast the newest recent wave converted: ``movies`` in the ``seconds`` of its own window,
    from its selection to its finish."""

    run_id: str
    movies: int
    seconds: float
    ended_at: datetime

    @property
    def movies_per_hour(self) -> float:
        return self.movies * 3600 / max(self.seconds, 1.0)


@dataclass(frozen=True)
class Summary:
    converted: int
    refused: int
    failed: int  # failed otherwise than on bad input
    remaining: int
    bytes_published: int
    converted_last_day: int
    source_seconds_last_day: float
    dag_id: str  # the migration DAG, whose runs the page links to
    as_of: datetime
    failures: list[Failure] = field(default_factory=list)
    refused_movies: list[Refused] = field(default_factory=list)  # the newest few
    recent: list[Conversion] = field(default_factory=list)
    hold: Hold | None = None
    estimate: tuple[str, Estimate, datetime] | None = None
    pace: Pace | None = None
    preflight: Preflight | None = None  # the newest converting run's checks

    @property
    def eta_hours(self) -> float | None:
        """Hours until every remaining movie is converted at the newest recent wave's pace (None: no
        recent wave converted anything)."""
        if self.pace is None or not self.pace.movies:
            return None
        return self.remaining / self.pace.movies_per_hour


def utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


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


def _preflight(preflight: Preflight) -> str:
    """What the newest run's preflight found wrong, each with its fix: nothing was claimed meanwhile."""
    e = html.escape
    items = "".join(f"<li><b>{e(p.check)}</b>: {e(p.what)}. <i>Fix:</i> {e(p.fix)}</li>" for p in preflight.problems)
    return (
        f"<div class='hold' id='preflight'><p><b>Preflight failed</b> at {utc(preflight.checked_at)} in run "
        f"<a target='_top' href='{e(run_link(preflight.dag_id, preflight.run_id))}'>{e(preflight.run_id)}</a> of "
        f"{e(preflight.dag_id)}; no movie is claimed until it passes:</p><ul>{items}</ul></div>"
    )


def _hold(hold: Hold, dag_id: str, now: datetime) -> str:
    """The hold's banner: since when, which run set it and why, and who waits for an answer."""
    e = html.escape
    text = (
        f"<p class='hold' id='hold'><b>On hold</b> since {utc(hold.held_at)} "
        f"(<a target='_top' href='{e(run_link(dag_id, hold.run_id))}'>{e(hold.run_id)}</a>): {e(hold.reason)}. "
    )
    if hold.asked_by and hold.asked_at:
        waited = human_seconds(max((now - hold.asked_at).total_seconds(), 0.0))
        text += (
            f"<b id='asking'>Run <a target='_top' href='{e(run_link(dag_id, hold.asked_by))}'>{e(hold.asked_by)}</a> "
            f"has waited {waited} for an answer</b>: approve or reject it in "
            f"<a target='_top' href='{e(REQUIRED_ACTIONS)}'>Required Actions</a>.</p>"
        )
    else:
        text += (
            "The next run that selects movies itself asks for approval in "
            f"<a target='_top' href='{e(REQUIRED_ACTIONS)}'>Required Actions</a> (or trigger one with <code>resume</code>).</p>"
        )
    return text


def render_page(summary: Summary) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>HLS migration</title><style>{STYLE}</style></head><body>"
    ]
    parts.append("<h1>HLS migration</h1>")
    if summary.preflight and summary.preflight.problems:
        parts.append(_preflight(summary.preflight))
    if summary.hold:
        parts.append(_hold(summary.hold, summary.dag_id, summary.as_of))
    eta = human_seconds(summary.eta_hours * 3600) if summary.eta_hours is not None else "no recent wave"
    totals = [
        ("converted", str(summary.converted)),
        ("refused", str(summary.refused)),
        ("failed", str(summary.failed)),
        ("remaining", str(summary.remaining)),
        ("published", human_bytes(summary.bytes_published)),
        (
            "last 24 h",
            f"{summary.converted_last_day} movies, {human_seconds(summary.source_seconds_last_day)} of video",
        ),
        ("ETA", eta),
    ]
    parts.append("<div class='totals'>")
    parts += [
        f"<div class='total' id='total-{e(name.replace(' ', '-'))}'>{e(name)}<b>{e(value)}</b></div>"
        for name, value in totals
    ]
    parts.append("</div>")
    if summary.pace and summary.pace.movies:
        pace = summary.pace
        parts.append(
            f"<p id='eta-basis'>ETA at the pace of wave <a target='_top' href='{e(run_link(summary.dag_id, pace.run_id))}'>"
            f"{e(pace.run_id)}</a>: {pace.movies} movies in {human_seconds(pace.seconds)} ({pace.movies_per_hour:.1f} movies/h), "
            f"ended {utc(pace.ended_at)}.</p>"
        )
    else:
        parts.append("<p id='eta-basis'>No ETA: no wave converted a movie in the last 7 days.</p>")

    failures = [
        [e(f.error_class or "unknown"), str(f.movies), f"movie {f.latest_movie_id}: {e(f.latest_message or '')}"]
        for f in summary.failures
    ]
    parts += _section(
        "Failures by error class", "failures", ["class", "movies", "latest message"], failures, "No movie is failing."
    )
    refused = [
        [
            str(r.movie_id),
            e(r.title),
            e(r.error_class),
            e(r.message),
            e(r.source_url),
            utc(r.refused_at) if r.refused_at else "",
        ]
        for r in summary.refused_movies
    ]
    parts += _section(
        "Refused as bad input",
        "refused",
        ["movie", "title", "class", "message", "source", "refused"],
        refused,
        "No source was refused.",
    )
    if summary.refused:
        shown = f"the newest {len(refused)} of {summary.refused}" if summary.refused > len(refused) else "all of them"
        parts.append(
            f"<p>Not the pipeline's failures and never a reason to hold it: a report for the catalog's owners ({shown} above). "
            "<a id='refused-csv' href='refused.csv'>Download every refused movie as CSV</a>.</p>"
        )
    recent = [
        [
            f"<img class='thumb' src='{e(c.thumbnail_url)}' alt=''>",
            f"{c.movie_id} {e(c.title)}<br><a href='{e(c.master_url)}'>master.m3u8</a>",
            f"{c.source_seconds:.0f} s",
            e(c.tracks),
            e(c.picture),
            human_bytes(c.bytes or 0),
            utc(c.finished_at),
            f"<a target='_top' href='{e(run_link(c.dag_id, c.run_id))}'>{e(c.run_id)}</a>",
        ]
        for c in summary.recent
    ]
    headers = ["", "movie", "length", "languages", "rungs", "published", "finished", "run"]
    parts += _section("Recent conversions", "recent", headers, recent, "Nothing converted yet.")

    parts.append("<h2>Latest dry-run estimate</h2>")
    if summary.estimate:
        run_id, estimate, created_at = summary.estimate
        parts.append(
            f"<p>Run <a target='_top' href='{e(run_link(summary.dag_id, run_id))}'>{e(run_id)}</a>, {utc(created_at)}</p>"
        )
        parts.append("<ul id='estimate'>" + "".join(f"<li>{e(line)}</li>" for line in estimate.lines()) + "</ul>")
    else:
        parts.append(
            f"<p>No dry run yet: trigger <code>{e(summary.dag_id)}</code> with <code>dry_run</code> to get one.</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)
