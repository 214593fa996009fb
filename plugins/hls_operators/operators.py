"""What every operator of one movie shares: its payload, the attempt it writes in the ledger (the
wave's, when a wave started its run), and ``MovieStepOperator``, which wires the claim, the ledger
and a temporary folder around one plain step function from ``hls_operators.steps``. The steps'
operators are in ``step_operators.py``; the run's own in ``run_operators.py``."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from hls_operators.core.errors import ErrorClass, MigrationError, classify
from hls_operators.core.job import ClaimedMovie, MovieJob, Wave
from hls_operators.edges import catalog, ledger, storage
from hls_operators.edges.ffmpeg import Progress
from hls_operators.edges.handoff import worker_cache
from hls_operators.hooks import CatalogHook, StorageHook
from hls_operators.settings import PUBLISHED_ASSET_NAME, PUBLISHED_ASSET_URI, Settings, load_settings

MOVIES_PUBLISHED = Asset(name=PUBLISHED_ASSET_NAME, uri=PUBLISHED_ASSET_URI)


def attempt_key(context: Any, movie_id: int) -> ledger.AttemptKey:
    """The movie's attempt: in the wave's run when a wave started this per-movie run (the conf's
    ``wave``: its DAG, run and the movie's map index there), so that the movie's claim, ledger
    attempt and outcome are the wave's; else in this run, map index -1."""
    ti = context["ti"]
    wave = wave_of(context)
    if wave is not None:
        return ledger.AttemptKey(
            dag_id=wave.dag_id,
            run_id=wave.run_id,
            movie_id=int(movie_id),
            map_index=wave.map_index,
            try_number=ti.try_number,
        )
    return ledger.AttemptKey(
        dag_id=ti.dag_id, run_id=context["run_id"], movie_id=int(movie_id), try_number=ti.try_number
    )


def wave_of(context: Any) -> Wave | None:
    """The wave that started this run (``hls_migration``'s ``convert`` task puts it in the conf), or None."""
    dag_run = context.get("dag_run")
    wave = ((dag_run.conf if dag_run is not None else None) or {}).get("wave")
    return Wave.from_dict(wave) if wave else None


class MovieOperator(BaseOperator):
    """An operator of one movie, whose payload comes from an upstream task's XCom (templated).

    :param movie: the movie's payload from the previous step (mapped per movie in a wave).
    """

    template_fields: Sequence[str] = ("movie",)

    def __init__(self, *, movie: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.movie = movie

    @property
    def claimed(self) -> ClaimedMovie:
        """The movie this task is about (its payload, once templated, is a claimed movie's or a job's)."""
        return ClaimedMovie.from_dict(self.movie)

    def job(self) -> MovieJob:
        """The probed movie (the payload of a task after the probe)."""
        return MovieJob.from_dict(self.movie)


class MovieStepOperator(MovieOperator):
    """Runs one step for one movie: renews the run's claim, opens or continues the movie's ledger
    attempt, runs ``run_step`` in a temporary folder that is always removed, and records the
    outcome. Bad input fails at once (no retry); faults of the environment are retried.
    """

    step = ""
    skip_in_dry_run = True

    def run_step(self, settings: Settings, ledger_id: int, work: Path, context: Any) -> tuple[Any, dict | None]:
        """Do the step; return (XCom value, ledger fields, or None when the step closed its ledger entry)."""
        raise NotImplementedError

    def execute(self, context: Any) -> Any:
        dry_run = bool(context["params"].get("dry_run"))
        if dry_run and self.skip_in_dry_run:
            raise AirflowSkipException("dry run: nothing is transcoded or published")
        settings = load_settings()
        claimed = self.claimed
        movie_id = claimed.movie_id
        key = attempt_key(context, movie_id)
        ledger_id = None
        try:
            with CatalogHook().connection() as conn:
                if not dry_run:
                    catalog.renew_claim(conn, claimed, run_id=key.run_id, ttl_minutes=settings.claim_ttl_minutes)
                ledger_id = ledger.begin_step(conn, key, self.step, source_url=claimed.source_url)
            started = time.monotonic()
            work = Path(tempfile.mkdtemp(prefix=f"hls-{movie_id}-{self.step}-", dir=settings.work_dir))
            try:
                result, fields = self.run_step(settings, ledger_id, work, context)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if fields is not None:
                with CatalogHook().connection() as conn:
                    ledger.finish_step(conn, ledger_id, self.step, time.monotonic() - started, **fields)
            return result
        except (AirflowSkipException, AirflowFailException):
            raise
        except Exception as error:
            failure = classify(error, catalog.read_error, storage.read_error)
            self.log.error(
                "movie %s %s failed [%s]: %s", movie_id, self.step, failure.error_class.value, failure.message
            )
            if failure.error_class is ErrorClass.DISK_FULL:
                worker_cache(Path(settings.work_dir), settings).clear()  # the retry needs the room more
            if ledger_id is not None:
                self.record_failure(ledger_id, failure)
            if failure.retryable:
                if failure is error:
                    raise
                raise failure from error
            raise AirflowFailException(str(failure)) from error

    def record_failure(self, ledger_id: int, failure: MigrationError) -> None:
        """Best effort: when the catalog itself is down, the next try or the record step closes the attempt."""
        try:
            with CatalogHook().connection() as conn:
                ledger.fail_attempt(conn, ledger_id, failure)
        except catalog.CatalogError as ledger_error:
            self.log.error("could not record the failure in the ledger: %s", ledger_error)

    def progress_to_ledger(self, ledger_id: int, total_seconds: float) -> Callable[[Progress], None]:
        """An ffmpeg progress callback that keeps the step's percent, speed and ETA in the ledger."""

        def record(progress: Progress) -> None:
            try:
                with CatalogHook().connection() as conn:
                    ledger.record_progress(
                        conn,
                        ledger_id,
                        self.step,
                        percent=progress.percent(total_seconds),
                        speed=progress.speed,
                        eta_seconds=progress.eta_seconds(total_seconds),
                    )
            except catalog.CatalogError as error:  # progress is informative: never fail a transcode for it
                self.log.warning("could not record progress: %s", error)

        return record

    def store(self, settings: Settings):
        return StorageHook().object_store(settings.bucket)
