"""Waves: a run converts a bounded batch. Its verdict says whether a person is needed: bad input is
a report for the catalog's owners, never a reason to stop; the pipeline or the fleet failing too
often holds the migration, and a defect of the pipeline turns the run red."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from hls_operators.core.errors import BAD_INPUT, DEFECTS

# The ledger keeps classes by their values (a str Enum member does not hash as its value).
_BAD_INPUT = frozenset(error_class.value for error_class in BAD_INPUT)
_DEFECTS = frozenset(error_class.value for error_class in DEFECTS)


@dataclass(frozen=True)
class Hold:
    """New movies wait: ``run_id``'s wave failed too often. ``asked_by``: the run that waits, since
    ``asked_at``, for a person to lift it in Required Actions."""

    run_id: str
    reason: str
    held_at: datetime
    asked_by: str | None = None
    asked_at: datetime | None = None


@dataclass(frozen=True)
class MovieOutcome:
    """One movie's latest attempt in a run, as the ledger has it."""

    movie_id: int
    status: str
    error_class: str | None = None
    message: str | None = None

    @property
    def refused(self) -> bool:
        """Failed on its input: the same source fails the same way on every try."""
        return self.status == "failed" and self.error_class in _BAD_INPUT

    @property
    def failed(self) -> bool:
        """Failed for another reason than its input: the pipeline's or the fleet's failure."""
        return self.status == "failed" and not self.refused

    def line(self) -> str:
        return f"movie {self.movie_id} [{self.error_class or 'unknown'}] {self.message or ''}".rstrip()


@dataclass(frozen=True)
class Verdict:
    """What a wave's finish concludes: ``hold`` (why new movies should wait, or None) and
    ``needs_a_person`` (why the run is red, or None: green)."""

    hold: str | None
    needs_a_person: str | None
    refused: list[MovieOutcome]
    failed: list[MovieOutcome]


def judge_wave(outcome: list[MovieOutcome], max_failure_rate: float) -> Verdict:
    """The verdict on a wave. Refused movies are left out of the failure rate (and of its base): a
    wave of good movies and broken uploads is green. The rate of other failures over
    ``max_failure_rate`` holds the migration; a defect (``errors.DEFECTS``) is red even within it."""
    refused = [movie for movie in outcome if movie.refused]
    failed = [movie for movie in outcome if movie.failed]
    judged = len(outcome) - len(refused)
    hold = None
    if failed and len(failed) / judged > max_failure_rate:
        by_class = ", ".join(
            f"{name} x{count}" for name, count in Counter(m.error_class or "unknown" for m in failed).most_common()
        )
        not_counted = f"; {len(refused)} refused as bad input, not counted" if refused else ""
        hold = (
            f"{len(failed)} of {judged} movies failed ({len(failed) / judged:.0%}, over the {max_failure_rate:.0%} allowed"
            f"{not_counted}): {by_class}"
        )
    defects = [movie for movie in failed if movie.error_class in _DEFECTS]
    needs_a_person = hold
    if needs_a_person is None and defects:
        needs_a_person = f"{len(defects)} movie(s) failed in a way no retry mends: " + "; ".join(
            m.line() for m in defects
        )
    return Verdict(hold, needs_a_person, refused, failed)


def waits_for_approval(hold: Hold | None, *, movie_ids: list[int] | None, dry_run: bool) -> bool:
    """Whether a run must wait for a person before taking movies: while a hold is set, a scheduled
    or catalog-wide run does; one naming its movies, or a dry run (which converts nothing), does not."""
    return hold is not None and not movie_ids and not dry_run


@dataclass(frozen=True)
class RunFinish:
    """What a run's last task does with its outcome."""

    estimate: bool  # report the dry run's estimate
    verdict: Verdict | None  # a wave's, to hold or lift the migration by
    failure: str | None  # why the run ends red (None: green)


def finish_run(
    outcome: list[MovieOutcome], *, wave: bool, dry_run: bool, in_a_wave: bool, max_failure_rate: float
) -> RunFinish:
    """A dry run reports its estimate (a wave's movie leaves it to the wave, whose estimate covers
    it); a wave is judged (``judge_wave``); a per-movie run is red whenever its movie failed, so that
    a refused movie's run is easy to find: one movie's failure says nothing of the catalog's."""
    if dry_run:
        return RunFinish(estimate=wave or not in_a_wave, verdict=None, failure=None)
    if not wave:
        failed = [movie.line() for movie in outcome if movie.status == "failed"]
        return RunFinish(estimate=False, verdict=None, failure=f"the movie failed: {failed[0]}" if failed else None)
    verdict = judge_wave(outcome, max_failure_rate)
    failure = f"a person is needed: {verdict.needs_a_person}" if verdict.needs_a_person else None
    return RunFinish(estimate=False, verdict=verdict, failure=failure)


def approval_request(held_by: str, reason: str, outcome: list[MovieOutcome]) -> str:
    """The body (Markdown) of the question a held migration asks in Airflow's Required Actions:
    why it is held and which movies failed, by class, with one message per class to go on."""
    failed: dict[str, list[MovieOutcome]] = {}
    for movie in outcome:
        if movie.failed:
            failed.setdefault(movie.error_class or "unknown", []).append(movie)
    lines = [
        f"Run `{held_by}` put the migration on hold: {reason}.",
        "",
        "| error class | movies | first message |",
        "| --- | --- | --- |",
    ]
    for error_class, movies in sorted(failed.items(), key=lambda item: (-len(item[1]), item[0])):
        ids = ", ".join(str(movie.movie_id) for movie in movies)
        first = (movies[0].message or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {error_class} | {ids} | {first} |")
    lines += [
        "",
        "**Approve**: the hold is lifted and this run takes the next wave.",
        "**Reject** (also what happens when nobody answers in time): this run takes no movie and the hold stays.",
    ]
    return "\n".join(lines)
