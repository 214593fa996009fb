"""Airflow operators of a run as a whole: asking to go on after a wave was held, selecting and
claiming movies (a wave's, or the one of a per-movie run), starting and awaiting each movie's run of a
wave, closing each movie's attempt (and telling the application), finishing the run,
rolling movies back; and the tasks of the maintenance DAGs (sweep, retire originals, CDN warm-up)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.operators.trigger_dagrun import XCOM_RUN_ID, TriggerDagRunOperator
from airflow.providers.standard.triggers.external_task import DagStateTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.bases.skipmixin import SkipMixin
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from hls_operators import maintenance, preflight
from hls_operators.core.estimate import estimate
from hls_operators.core.job import ClaimedMovie, Wave
from hls_operators.core.view import utc
from hls_operators.core.waves import approval_request, judge_wave
from hls_operators.edges import catalog, ledger, run_records
from hls_operators.hooks import CatalogHook, WebhookHook
from hls_operators.operators import MovieOperator, attempt_key, wave_of
from hls_operators.settings import CONVERT_DAG_ID, Settings, load_settings


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


class ApproveWaveOperator(ApprovalOperator):
    """After the preflight (which has made the pipeline's tables): while the migration is on
    hold, asks a person in Airflow's Required Actions whether this run may take the next wave.

    Nothing is asked when no hold is set, or for runs a hold does not stop (``movie_ids``, dry
    runs); ``resume`` lifts the hold without asking. Otherwise the task waits (holding no worker
    slot) with the held run's failures by class: **Approve** lifts the hold and the run goes on;
    **Reject** skips the rest of the run and keeps the hold; no answer within
    ``hls_approval_timeout_hours`` fails the run (red: nobody looked) and keeps the hold.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            subject="The HLS migration is on hold: take the next wave?",
            defaults=ApprovalOperator.REJECT,
            ignore_downstream_trigger_rules=True,  # a rejected run skips finish too: it converted nothing
            **kwargs,
        )
        # Its wait ends at hls_approval_timeout_hours (a Variable, read when it asks), which a task
        # limit fixed at parse time would cut short.
        self.execution_timeout = None

    def execute(self, context: Any) -> Any:
        params = context["params"]
        with CatalogHook().connection() as conn:
            if params.get("resume"):
                lifted = run_records.lift_hold(conn)
                self.log.info(
                    "resume: %s",
                    f"lifted the hold set by run {lifted[0]} ({lifted[1]})" if lifted else "no hold was set",
                )
                return None
            hold = run_records.current_hold(conn)
            if hold is None or params.get("movie_ids") or params.get("dry_run"):
                return None
            outcome = ledger.run_outcome(conn, dag_id=context["ti"].dag_id, run_id=hold.run_id)
            run_records.ask_to_lift_hold(conn, run_id=context["run_id"])  # the migration view says who waits
        self.log.warning(
            "on hold since %s (run %s): %s; asking for approval in Required Actions",
            utc(hold.held_at),
            hold.run_id,
            hold.reason,
        )
        self.body = approval_request(hold.run_id, hold.reason, outcome)
        self.response_timeout = timedelta(hours=load_settings().approval_timeout_hours)
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        who = (event.get("responded_by_user") or {}).get("name") or "nobody"
        if "error" in event or event.get("chosen_options") != [self.APPROVE]:
            with CatalogHook().connection() as conn:
                run_records.ask_to_lift_hold(conn, run_id=None)
            if event.get("timedout"):
                # Nobody answered: red, so that someone looks; the hold stays for the next run to ask.
                raise AirflowFailException(
                    f"nobody answered within hls_approval_timeout_hours ({load_settings().approval_timeout_hours:g} h): "
                    "the hold stays; answer the next run's request in Required Actions or trigger with resume=true"
                )
            self.log.warning("rejected by %s: this run takes no movie and the hold stays", who)
            # After the mark is cleared: on Reject the base class skips everything downstream by raising.
            return super().execute_complete(context, event)
        response = super().execute_complete(context, event)
        with CatalogHook().connection() as conn:
            lifted = run_records.lift_hold(conn)
        self.log.info("approved by %s: lifted the hold set by run %s", who, lifted[0] if lifted else "-")
        return response


class SelectMoviesOperator(BaseOperator):
    """Selects and claims the movies to convert.

    Reads the DAG params ``movie_ids``, ``limit`` (default: the ``hls_wave_size`` setting),
    ``force`` and ``dry_run``. A run without ``movie_ids`` takes no movie while a hold is still set
    (``approve_wave`` lifts it on approval), unless it is a dry run.
    """

    def execute(self, context: Any) -> list[dict[str, Any]]:
        settings = load_settings()
        params = context["params"]
        movie_ids = [int(i) for i in params.get("movie_ids") or []] or None
        dry_run = bool(params.get("dry_run"))
        with CatalogHook().connection() as conn:
            hold = run_records.current_hold(conn)
            if hold and not movie_ids and not dry_run:
                message = (
                    f"the migration is on hold since {utc(hold.held_at)} (run {hold.run_id}): {hold.reason}; "
                    "approve it in Required Actions or trigger with resume=true"
                )
                self.log.warning("%s", message)
                raise AirflowSkipException(message)
            if not dry_run:
                run_records.start_wave(
                    conn, dag_id=context["ti"].dag_id, run_id=context["run_id"]
                )  # the ETA's window opens
            claimed = claim(
                conn, context, settings, movie_ids=movie_ids, limit=int(params.get("limit") or settings.wave_size)
            )
        self.log.info("selected %d movie(s): %s", len(claimed), [c.movie_id for c in claimed])
        if movie_ids:
            passed_over = sorted(set(movie_ids) - {c.movie_id for c in claimed})
            if passed_over:
                self.log.warning(
                    "not selected (missing, not an MP4, already converted without force, or claimed by another run): %s",
                    passed_over,
                )
        return [c.to_dict() for c in claimed]


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


class ConvertMovieRunOperator(TriggerDagRunOperator):
    """One movie of a wave: starts the movie's run of ``hls_convert_movie``, whose chunk tasks are
    as many as its length asks for, and waits for it deferred (no worker slot held). The run id is
    the wave's plus the movie's, and the conf names the wave, so that the movie's claim, ledger
    attempt and outcome are the wave's. Cleared or run again, it never starts a movie over whose
    run succeeded or still runs: it waits for it; a failed run is run again from the start.

    :param movie: the claimed movie (the selection's mapped XCom).
    """

    # what the UI shows for each mapped task of a wave
    MAP_INDEX_TEMPLATE = "movie {{ task.movie['movie_id'] }}"
    template_fields: Sequence[str] = (*TriggerDagRunOperator.template_fields, "movie")

    def __init__(self, *, movie: Any, **kwargs: Any) -> None:
        super().__init__(
            trigger_dag_id=CONVERT_DAG_ID,
            logical_date=None,
            wait_for_completion=True,
            deferrable=True,
            poke_interval=5,
            fail_when_dag_is_paused=True,
            **kwargs,
        )
        self.movie = movie

    def execute(self, context: Any) -> None:
        ti, params = context["ti"], context["params"]
        movie_id = ClaimedMovie.from_dict(self.movie).movie_id
        self.trigger_run_id = movie_run_id(context["run_id"], movie_id)
        self.conf = {
            "movie_id": movie_id,
            "force": bool(params.get("force")),
            "dry_run": bool(params.get("dry_run")),
            "movie": self.movie,
            "wave": Wave(ti.dag_id, context["run_id"], ti.map_index).to_dict(),
        }
        if ti.get_dr_count(dag_id=CONVERT_DAG_ID, run_ids=[self.trigger_run_id]):
            ti.xcom_push(XCOM_RUN_ID, self.trigger_run_id)  # the "Triggered DAG" link, wiped by a clear
            state = ti.get_dagrun_state(dag_id=CONVERT_DAG_ID, run_id=self.trigger_run_id)
            if state == "success":
                self.log.info("movie %s: its run %s has succeeded already", movie_id, self.trigger_run_id)
                return
            if state != "failed":
                self.log.info("movie %s: waiting for its run %s (%s)", movie_id, self.trigger_run_id, state)
                states = self.allowed_states + self.failed_states
                trigger = DagStateTrigger(
                    CONVERT_DAG_ID, states, run_ids=[self.trigger_run_id], poll_interval=self.poke_interval
                )
                self.defer(trigger=trigger, method_name="execute_complete")
            self.log.info("movie %s: its run %s failed; running it again from the start", movie_id, self.trigger_run_id)
            self.reset_dag_run = True
        super().execute(context)


def movie_run_id(wave_run_id: str, movie_id: int | str) -> str:
    """The run id of a wave's movie in ``hls_convert_movie``: one run per movie and wave, found
    again on a clear (with an empty ``movie_id``: the prefix of every movie's run of the wave)."""
    return f"{wave_run_id}__movie_{movie_id}"


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
    """Closes the run: logs one line per movie; after a dry run, logs the estimate (and saves a
    wave's for the migration view); otherwise judges a wave (``core.waves.judge_wave``): lists the
    movies refused as bad input, a report that never holds anything; sets a hold when other failures
    are over ``hls_max_failure_rate`` (and lifts the hold it had set when, run again after a clear,
    they no longer are); and fails the run only when a person is needed. A per-movie run fails
    whenever its movie failed, so that a refused movie's run is easy to find.

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
            if context["params"].get("dry_run"):
                if self.wave or wave_of(context) is None:
                    self.report_estimate(conn, settings, dag_id, run_id)
                return
            if not self.wave:
                if failed := [movie.line() for movie in outcome if movie.status == "failed"]:
                    raise AirflowFailException(f"the movie failed: {failed[0]}")
                return
            run_records.finish_wave(conn, dag_id=dag_id, run_id=run_id)
            verdict = judge_wave(outcome, settings.max_failure_rate)
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
        if verdict.needs_a_person:
            raise AirflowFailException(f"a person is needed: {verdict.needs_a_person}")
        converted = sum(movie.status == "succeeded" for movie in outcome)
        self.log.info(
            "wave done: %d converted, %d refused as bad input, %d failed otherwise (within the %.0f%% allowed; retried next time)",
            converted,
            len(verdict.refused),
            len(verdict.failed),
            settings.max_failure_rate * 100,
        )

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
