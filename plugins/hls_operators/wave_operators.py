"""The operators of a wave (``hls_migration``) before its finish: ask a person while a failed
wave holds the migration, select and claim the movies, and start and await each movie's run of
``hls_convert_movie``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.operators.trigger_dagrun import XCOM_RUN_ID, TriggerDagRunOperator
from airflow.providers.standard.triggers.external_task import DagStateTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from hls_operators.core.job import ClaimedMovie, Wave
from hls_operators.core.view import utc
from hls_operators.core.waves import approval_request, waits_for_approval
from hls_operators.edges import ledger, run_records
from hls_operators.hooks import CatalogHook
from hls_operators.run_operators import claim
from hls_operators.settings import CONVERT_DAG_ID, load_settings


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
            if not waits_for_approval(hold, movie_ids=params.get("movie_ids"), dry_run=bool(params.get("dry_run"))):
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
            if waits_for_approval(hold, movie_ids=movie_ids, dry_run=dry_run):
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
