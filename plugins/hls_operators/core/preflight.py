"""The preflight's verdicts: what is wrong before a run claims anything, and how to put it right.

A missing pool, a closed bucket or an ffmpeg without x264 would otherwise show up minutes or
hours later, on every movie, or never (a task in a missing pool waits for ever, silently). The
shell gathers the facts (``preflight.py``); these functions judge them, each problem with the
exact command or setting that mends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hls_operators.core.video_codecs import VIDEO_CODECS

# The encoder each output needs, by ``hls_video_codecs`` entry; audio and subtitles always.
ALWAYS_NEEDED_ENCODERS = ("aac", "webvtt")


@dataclass(frozen=True)
class Problem:
    """One failed check: which, what is wrong, and how to fix it."""

    check: str
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.check}: {self.what.rstrip('.')}. Fix: {self.fix}"


@dataclass(frozen=True)
class Preflight:
    """The newest preflight of a converting run, as the migration view shows it."""

    dag_id: str
    run_id: str
    checked_at: datetime
    problems: list[Problem] = field(default_factory=list)


def pool_problem(pool: str, description: str, slots: int | None) -> Problem | None:
    """A missing pool, or one without a slot, leaves every encode task ``scheduled`` for ever."""
    command = f'airflow pools set {pool} 2 "{description}"'
    sizing = "(one slot per 4 worker cores, at least one per worker; or Admin > Pools in the UI)"
    if slots is None:
        return Problem(
            "pool",
            f"the Airflow pool {pool} does not exist, so no encode task would ever be scheduled",
            f"{command} {sizing}",
        )
    if slots < 1:
        return Problem(
            "pool", f"the Airflow pool {pool} has {slots} slots, so no encode task could run", f"{command} {sizing}"
        )
    return None


def needed_encoders(codecs: Iterable[str]) -> list[str]:
    """The ffmpeg encoders a run with these video codecs (``Settings.codecs``) uses."""
    return sorted({VIDEO_CODECS[codec].encoder for codec in codecs} | set(ALWAYS_NEEDED_ENCODERS))


def parse_encoders(listing: str) -> set[str]:
    """The encoder names in ``ffmpeg -encoders``' output: the second word of each line after the
    ``------`` that ends its legend (`` V....D libx264   libx264 H.264 ...``)."""
    _, _, table = listing.partition("------")
    return {words[1] for words in (line.split() for line in table.splitlines()) if len(words) >= 2}


def encoders_problem(available: Iterable[str], needed: Iterable[str]) -> Problem | None:
    missing = sorted(set(needed) - set(available))
    if not missing:
        return None
    return Problem(
        "ffmpeg",
        f"this ffmpeg has no {', '.join(missing)} encoder",
        "install an ffmpeg built with them on every worker (Debian: apt-get install ffmpeg)",
    )


def missing_program_problem(program: str, error: str) -> Problem:
    return Problem(
        "ffmpeg",
        f"{program} does not run on this worker: {error}",
        f"install ffmpeg (it brings {program}) on every worker and put it on PATH (Debian: apt-get install ffmpeg)",
    )


def catalog_problem(conn_id: str, error: str) -> Problem:
    return Problem(
        "catalog",
        f"connection {conn_id} does not answer: {error}",
        f"point connection {conn_id} (Admin > Connections, or AIRFLOW_CONN_{conn_id.upper()}) at the "
        "catalog's PostgreSQL, with a user that may read movies and create the pipeline's tables",
    )


def storage_problem(conn_id: str, bucket: str, prefix: str, error: str) -> Problem:
    return Problem(
        "storage",
        f"bucket {bucket} did not take a write and a delete under {prefix}/: {error}",
        f"check connection {conn_id}'s keys and endpoint_url, and that hls_bucket names a bucket "
        "those keys may write to and delete from",
    )


def settings_problem(error: str) -> Problem:
    return Problem("settings", error, "set or correct that Variable (Admin > Variables, or AIRFLOW_VAR_HLS_...)")


def unreachable_problem(what: str, error: str) -> Problem:
    return Problem(
        "airflow",
        f"could not ask the api-server about {what}: {error}",
        "check that the worker reaches the api-server at [core] execution_api_server_url",
    )


def paused_problem(dag_id: str) -> Problem:
    return Problem(
        "dag",
        f"{dag_id} is paused, so no movie of a wave would start",
        f"airflow dags unpause {dag_id} (or its toggle in the UI)",
    )


def summary(problems: list[Problem]) -> str:
    """One paragraph for the task's failure and the migration view."""
    return f"preflight found {len(problems)} problem(s); nothing was claimed: " + " | ".join(p.line() for p in problems)
