"""Airflow operators of a converting run as a whole, in both DAGs: claiming the movie of a
per-movie run, closing each movie's attempt (and telling the application), and finishing the run
(judging a wave). A wave's own tasks before its finish are in ``wave_operators.py``; the
maintenance DAGs' in ``maintenance_operators.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.skipmixin import SkipMixin
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from hls_operators import maintenance, preflight
from hls_operators.core.estimate import estimate
from hls_operators.core.job import ClaimedMovie
from hls_operators.core.waves import Verdict, finish_run
from hls_operators.edges import catalog, ledger, run_records
from hls_operators.hooks import CatalogHook, WebhookHook
from hls_operators.operators import MovieOperator, attempt_key, wave_of
from hls_operators.settings import Settings, load_settings


class RecordOperator(MovieOperator):
    """Closes the movie's attempt in the ledger (a task that died without reporting becomes
    ``worker_lost``) and releases the movie's claim. Runs whatever happened upstream. ``movie`` is
    the claimed movie (from the selection).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)

    def execute(self, context: Any) -> str:
        if self.movie is None:  # the run failed before a movie was claimed (its preflight)
            raise AirflowSkipException("no movie was claimed: nothing to record")
        movie_id = self.claimed.movie_id
        key = attempt_key(context, movie_id)
        with CatalogHook().connection() as conn:
            status = ledger.finalize_attempt(conn, key)
        self.log.info("movie %s: %s", movie_id, status)
        if not context["params"].get("dry_run"):
            self.notify_application(movie_id, key.run_id)
        return status

    def notify_application(self, movie_id: int, run_id: str) -> None:
        """The application's webhook, when one is configured; never a reason for this task to fail."""
        try:
            endpoint = WebhookHook().endpoint()
            if endpoint is not None:
                maintenance.notify_application(
                    movie_id,
                    run_id,
                    endpoint=endpoint,
                    settings=load_settings(),
                    connect=CatalogHook().connection,
                    log=self.log,
                )
        except Exception as error:  # the conversion is done whatever the application hears of it
            self.log.warning("movie %s: the webhook was not sent: %s", movie_id, error)


def claim(conn, context: Any, settings: Settings, *, movie_ids: list[int] | None, limit: int) -> list[ClaimedMovie]:
    """Claim movies for this run with the run's ``force`` and ``dry_run`` params (a dry run keeps no claim)."""
    params = context["params"]
    return catalog.claim_movies(
        conn,
        run_id=context["run_id"],
        movie_ids=movie_ids,
        limit=limit,
        force=bool(params.get("force")),
        ttl_minutes=settings.claim_ttl_minutes,
        dry_run=bool(params.get("dry_run")),
    )


class ClaimMovieOperator(BaseOperator, SkipMixin):
    """The first task of a per-movie run: runs the preflight (``preflight.check``: it also creates
    the pipeline's tables if needed) and claims the movie of the param ``movie_id``. A movie that
    cannot be converted now (missing, not an MP4, already converted without ``force``, or claimed
    by another run, such as the nightly wave)
    skips the whole run, with the reason in the log. A held wave does not stop it (as ``movie_ids``
    does not stop ``hls_migration``). In a run a wave started, the wave has claimed the movie
    already: its selection comes in the conf (``movie``)."""

    def execute(self, context: Any) -> dict[str, Any] | None:
        movie_id = int(context["params"]["movie_id"])
        wave = wave_of(context)
        if wave is not None:
            self.log.info("movie %s, claimed by wave %s of %s", movie_id, wave.run_id, wave.dag_id)
            return context["dag_run"].conf["movie"]
        preflight.check(context, log=self.log)  # the pool, ffmpeg, catalog, bucket and settings, first
        with CatalogHook().connection() as conn:
            claimed = claim(conn, context, load_settings(), movie_ids=[movie_id], limit=1)
        if not claimed:
            self.log.warning(
                "movie %s not converted: missing, not an MP4, already converted without force, or claimed by another run",
                movie_id,
            )
            self.skip(ti=context["ti"], tasks=context["task"].get_flat_relatives(upstream=False))
            return None
        self.log.info("claimed movie %s", movie_id)
        return claimed[0].to_dict()


class FinishRunOperator(BaseOperator):
    """Closes the run: logs one line per movie, then does what ``core.waves.finish_run`` decides:
    logs a dry run's estimate (and saves a wave's for the migration view); for a wave, lists the
    movies refused as bad input, a report that never holds anything, and sets a hold when other
    failures are over ``hls_max_failure_rate`` (or lifts the hold it had set when, run again after a
    clear, they no longer are); fails the run when a person is needed, or a per-movie run's movie failed.

    :param gates: the run's own tasks before any movie (its preflight, a wave's approval): when one
        of them failed, the run converted nothing and fails here too, as the run's last task.
    :param wave: whether the run is a wave of the catalog, whose movies each ran in a per-movie
        run. A per-movie run reports its own movie only, in the wave's ledger when a wave started
        it (whose finish then reports the estimate): one movie's failure says nothing of the
        catalog's, nor its estimate of the next wave's.
    """

    def __init__(self, *, gates: Sequence[str] = (), wave: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.gates = list(gates)
        self.wave = wave

    def execute(self, context: Any) -> None:
        ti = context["ti"]
        if self.gates and ti.get_ti_count(
            dag_id=ti.dag_id, run_ids=[context["run_id"]], task_ids=self.gates, states=["failed"]
        ):
            raise AirflowFailException(
                f"one of {', '.join(self.gates)} failed (see its log): this run converted nothing"
            )
        settings = load_settings()
        if self.wave:
            dag_id, run_id, only = context["ti"].dag_id, context["run_id"], None
        else:
            key = attempt_key(context, context["params"]["movie_id"])
            dag_id, run_id, only = key.dag_id, key.run_id, key.movie_id
        with CatalogHook().connection() as conn:
            outcome = [
                movie
                for movie in ledger.run_outcome(conn, dag_id=dag_id, run_id=run_id)
                if only in (None, movie.movie_id)
            ]
            for movie in outcome:
                detail = f" [{movie.error_class}] {movie.message}" if movie.error_class else ""
                self.log.info("movie %s: %s%s", movie.movie_id, movie.status, detail)
            finish = finish_run(
                outcome,
                wave=self.wave,
                dry_run=bool(context["params"].get("dry_run")),
                in_a_wave=wave_of(context) is not None,
                max_failure_rate=settings.max_failure_rate,
            )
            if finish.estimate:
                self.report_estimate(conn, settings, dag_id, run_id)
            if finish.verdict:
                run_records.finish_wave(conn, dag_id=dag_id, run_id=run_id)
                self.act_on(conn, finish.verdict, run_id)
        if finish.failure:
            raise AirflowFailException(finish.failure)
        if finish.verdict:
            self.log.info(
                "wave done: %d converted, %d refused as bad input, %d failed otherwise (within the %.0f%% allowed; retried next time)",
                sum(movie.status == "succeeded" for movie in outcome),
                len(finish.verdict.refused),
                len(finish.verdict.failed),
                settings.max_failure_rate * 100,
            )

    def act_on(self, conn, verdict: Verdict, run_id: str) -> None:
        """Lists the refused movies; sets the hold the verdict asks for, or lifts the one this run had set."""
        if verdict.refused:
            self.log.warning(
                "%d movie(s) refused as bad input (a report for the catalog's owners; never counted "
                "toward a hold; the migration view lists them, with a CSV):",
                len(verdict.refused),
            )
            for movie in verdict.refused:
                self.log.warning("  refused: %s", movie.line())
        if verdict.hold:
            run_records.set_hold(conn, run_id=run_id, reason=verdict.hold)
            self.log.error("scheduled runs take no new movies until resumed: %s", verdict.hold)
        elif lifted := run_records.lift_hold(conn, set_by=run_id):
            # run again after a clear, the wave no longer fails too often: its own hold goes
            self.log.info("lifted the hold this run had set (%s)", lifted[1])

    def report_estimate(self, conn, settings: Settings, dag_id: str, run_id: str) -> None:
        measured, transcodes = ledger.measured_transcode_cost(conn)
        result = estimate(
            ledger.dry_run_movies(conn, dag_id=dag_id, run_id=run_id),
            audio_kbps=settings.audio_bitrate_kbps,
            cpu_seconds_per_megapixel_second=measured or settings.cpu_seconds_per_megapixel_second,
            speed_measured_on=transcodes if measured else 0,
            prices=settings.prices,
            segment_format=settings.segment_format,
        )
        for line in result.lines():
            self.log.info("estimate: %s", line)
        if self.wave:
            run_records.save_estimate(conn, run_id=run_id, estimate=result)
