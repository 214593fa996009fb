"""Airflow operators: thin shells that wire the ledger, the claim and a temporary folder around
one plain step function from ``hls_operators.steps``."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg2
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from botocore.exceptions import BotoCoreError, ClientError

from hls_operators import steps
from hls_operators.core.errors import ErrorClass, MigrationError, is_disk_full
from hls_operators.core.estimate import estimate
from hls_operators.core.job import MovieJob
from hls_operators.core.publishing import new_version
from hls_operators.core.view import utc
from hls_operators.core.waves import hold_reason
from hls_operators.edges import catalog
from hls_operators.edges.ffmpeg import Progress
from hls_operators.edges.handoff import worker_cache
from hls_operators.hooks import CatalogHook, StorageHook
from hls_operators.settings import Settings, load_settings


def classify(error: Exception) -> MigrationError:
    """Every failure becomes a ``MigrationError``; unknown ones are ``internal`` and not retried."""
    if isinstance(error, MigrationError):
        return error
    if isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return MigrationError(ErrorClass.CATALOG_UNAVAILABLE, str(error))
    if isinstance(error, (BotoCoreError, ClientError)):
        return MigrationError(ErrorClass.STORAGE_UNAVAILABLE, str(error))
    if is_disk_full(error):
        return MigrationError(ErrorClass.DISK_FULL, str(error))
    return MigrationError(ErrorClass.INTERNAL, f"{type(error).__name__}: {error}", retryable=False)


def attempt_key(context: Any, movie_id: int) -> catalog.AttemptKey:
    ti = context["ti"]
    return catalog.AttemptKey(
        dag_id=ti.dag_id, run_id=context["run_id"], movie_id=int(movie_id),
        map_index=ti.map_index, try_number=ti.try_number,
    )  # fmt: skip


class MovieStepOperator(BaseOperator):
    """Runs one step for one movie: renews the run's claim, opens or continues the movie's ledger
    attempt, runs ``run_step`` in a temporary folder that is always removed, and records the
    outcome. Bad input fails at once (no retry); faults of the environment are retried.

    :param movie: the movie's payload from the previous step (mapped per movie).
    """

    step = ""
    template_fields: Sequence[str] = ("movie",)
    skip_in_dry_run = True

    def __init__(self, *, movie: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.movie = movie

    def run_step(self, settings: Settings, ledger_id: int, work: Path, context: Any) -> tuple[Any, dict | None]:
        """Do the step; return (XCom value, ledger fields, or None when the step closed its ledger entry)."""
        raise NotImplementedError

    def execute(self, context: Any) -> Any:
        dry_run = bool(context["params"].get("dry_run"))
        if dry_run and self.skip_in_dry_run:
            raise AirflowSkipException("dry run: nothing is transcoded or published")
        settings = load_settings()
        movie_id = int(self.movie["movie_id"])
        key = attempt_key(context, movie_id)
        ledger_id = None
        try:
            with CatalogHook().connection() as conn:
                if not dry_run:
                    catalog.renew_claim(conn, movie_id=movie_id, run_id=key.run_id, ttl_minutes=settings.claim_ttl_minutes)
                ledger_id = catalog.begin_step(conn, key, self.step, source_url=self.movie.get("source_url"))
            started = time.monotonic()
            work = Path(tempfile.mkdtemp(prefix=f"hls-{movie_id}-{self.step}-", dir=settings.work_dir))
            try:
                result, fields = self.run_step(settings, ledger_id, work, context)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if fields is not None:
                with CatalogHook().connection() as conn:
                    catalog.finish_step(conn, ledger_id, self.step, time.monotonic() - started, **fields)
            return result
        except (AirflowSkipException, AirflowFailException):
            raise
        except Exception as error:
            failure = classify(error)
            self.log.error("movie %s %s failed [%s]: %s", movie_id, self.step, failure.error_class.value, failure.message)
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
                catalog.fail_attempt(conn, ledger_id, failure)
        except psycopg2.Error as ledger_error:
            self.log.error("could not record the failure in the ledger: %s", ledger_error)

    def progress_to_ledger(self, ledger_id: int, total_seconds: float) -> Callable[[Progress], None]:
        """An ffmpeg progress callback that keeps the step's percent, speed and ETA in the ledger."""

        def record(progress: Progress) -> None:
            try:
                with CatalogHook().connection() as conn:
                    catalog.record_progress(
                        conn, ledger_id, self.step, percent=progress.percent(total_seconds),
                        speed=progress.speed, eta_seconds=progress.eta_seconds(total_seconds),
                    )  # fmt: skip
            except psycopg2.Error as error:  # progress is informative: never fail a transcode for it
                self.log.warning("could not record progress: %s", error)

        return record

    def store(self, settings: Settings):
        return StorageHook().object_store(settings.bucket)

    def job(self) -> MovieJob:
        return MovieJob.from_dict(self.movie)


class ProbeOperator(MovieStepOperator):
    """Fetches the source, runs ffprobe, refuses bad input and plans the ladder.

    :param movie: a claimed movie: ``movie_id``, ``source_url``, ``expected_url``.
    :param chunk_slots: how many chunk tasks the DAG has for each movie: the most chunks to plan.
    """

    step = "probe"
    skip_in_dry_run = False

    def __init__(self, *, chunk_slots: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chunk_slots = chunk_slots

    def run_step(self, settings, ledger_id, work, context):
        job = steps.probe_movie(
            movie_id=int(self.movie["movie_id"]),
            source_url=self.movie["source_url"],
            expected_url=self.movie["expected_url"],
            version=new_version(),
            store=self.store(settings),
            settings=settings,
            work=work,
            chunk_slots=self.chunk_slots,
        )
        p = job.probe
        self.log.info(
            "movie %s: %s %dx%d %s fps, %.1f s, audio %s; ladder %s",
            job.movie_id, p.video_codec, p.width, p.height, p.frame_rate, p.duration, p.audio_codec or "none",
            ", ".join(f"{r.name} {r.width}x{r.height} " + ("copied" if r.source_copy else f"{r.video_kbps}k") for r in job.ladder),
        )  # fmt: skip
        self.log.info("movie %s: encoded in %d chunk(s) starting at %s s", job.movie_id, len(job.chunks), [c.start for c in job.chunks])
        fields = {
            "probe": p.to_dict(),
            "ladder": [r.to_dict() for r in job.ladder],
            "output_prefix": job.output_prefix(settings.output_prefix),
        }
        if context["params"].get("dry_run"):
            fields["status"] = "dry_run"
        return job.to_dict(), fields


class EncodeChunkOperator(MovieStepOperator):
    """Encodes one chunk of the movie's timeline for every rung in one ffmpeg process (one decode);
    skipped when the movie has fewer chunks than the DAG has chunk tasks.

    :param movie: the probe step's payload.
    :param chunk_index: which chunk of the movie this task encodes.
    """

    def __init__(self, *, chunk_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chunk_index = chunk_index
        self.step = f"encode_{chunk_index}"

    def execute(self, context: Any) -> Any:
        chunks = self.movie.get("chunks") or []
        if self.chunk_index >= len(chunks):
            raise AirflowSkipException(f"movie {self.movie['movie_id']} has {len(chunks)} chunk(s): nothing for this one")
        return super().execute(context)

    def run_step(self, settings, ledger_id, work, context):
        job = self.job()
        usage = steps.encode_chunk(
            job, self.chunk_index, store=self.store(settings), settings=settings, work=work, log=self.log,
            on_progress=self.progress_to_ledger(ledger_id, job.chunk_seconds(job.chunks[self.chunk_index])),
        )  # fmt: skip
        return None, {"details": usage.ledger_details()}


class PackageOperator(MovieStepOperator):
    """Encodes each audio track once and stitches the chunks of each rung into its HLS folder, with
    I-frame playlists, subtitle renditions and the storyboard: copies only, so it takes seconds
    where the encode took minutes. The ledger's step says which audio and subtitle tracks were
    carried over, and which could not be.

    :param movie: the probe step's payload.
    """

    step = "package"

    def __init__(self, **kwargs: Any) -> None:
        # Runs after its chunk tasks, some of which are skipped when a movie has fewer chunks.
        kwargs.setdefault("trigger_rule", "none_failed")
        super().__init__(**kwargs)

    def run_step(self, settings, ledger_id, work, context):
        job = self.job()
        packaged = steps.package_movie(
            job, store=self.store(settings), settings=settings, work=work, log=self.log,
            on_progress=self.progress_to_ledger(ledger_id, job.probe.duration),
        )  # fmt: skip
        details = {**packaged["usage"].ledger_details(), **packaged["carried_over"]}
        return None, {"ladder": packaged["renditions"]["video"], "details": details}


class ThumbnailsOperator(MovieStepOperator):
    """Evenly spaced JPEG thumbnails at most ``hls_thumbnail_width`` wide, plus a contact sheet.

    :param movie: the probe step's payload.
    """

    step = "thumbnails"

    def run_step(self, settings, ledger_id, work, context):
        count = steps.thumbnail_movie(self.job(), store=self.store(settings), settings=settings, work=work, log=self.log)
        return count, {}


class UploadOperator(MovieStepOperator):
    """Uploads segments, playlists and thumbnails with their Content-Type and Cache-Control, in
    parallel, the master playlist last.

    :param movie: the probe step's payload.
    """

    step = "upload"

    def run_step(self, settings, ledger_id, work, context):
        published = steps.publish_movie(self.job(), store=self.store(settings), settings=settings, work=work, log=self.log)
        return None, {"output_prefix": published.output_prefix, "bytes": published.bytes}


class VerifyAndFlipOperator(MovieStepOperator):
    """Verifies the uploaded set, then flips ``video_url`` to the master playlist in one transaction
    with the ledger, only if the application has not changed ``video_url`` meanwhile.

    :param movie: the probe step's payload.
    """

    step = "verify_and_flip"

    def run_step(self, settings, ledger_id, work, context):
        url = steps.verify_and_flip(
            self.job(), ledger_id=ledger_id, step=self.step, store=self.store(settings), settings=settings,
            connect=CatalogHook().connection, log=self.log,
        )  # fmt: skip
        return url, None  # the flip closed the step's ledger entry in its own transaction


class RecordOperator(BaseOperator):
    """Closes the movie's attempt in the ledger (a task that died without reporting becomes
    ``worker_lost``) and releases the movie's claim. Runs whatever happened upstream.

    :param movie: the claimed movie (from the selection).
    """

    template_fields: Sequence[str] = ("movie",)

    def __init__(self, *, movie: Any, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.movie = movie

    def execute(self, context: Any) -> str:
        with CatalogHook().connection() as conn:
            status = catalog.finalize_attempt(conn, attempt_key(context, int(self.movie["movie_id"])))
        self.log.info("movie %s: %s", self.movie["movie_id"], status)
        return status


class SelectMoviesOperator(BaseOperator):
    """Creates the pipeline's tables if needed, then selects and claims the movies to convert.

    Reads the DAG params ``movie_ids``, ``limit`` (default: the ``hls_wave_size`` setting),
    ``force``, ``dry_run`` and ``resume``. While a hold is set (a wave failed too often), a run
    without ``movie_ids`` takes no movie and says why, unless it is a dry run or ``resume`` lifts it.
    """

    def execute(self, context: Any) -> list[dict[str, Any]]:
        settings = load_settings()
        params = context["params"]
        movie_ids = [int(i) for i in params.get("movie_ids") or []] or None
        dry_run = bool(params.get("dry_run"))
        with CatalogHook().connection() as conn:
            catalog.ensure_schema(conn)
            if params.get("resume"):
                lifted = catalog.lift_hold(conn)
                self.log.info("resume: %s", f"lifted the hold set by run {lifted[0]} ({lifted[1]})" if lifted else "no hold was set")
            hold = catalog.current_hold(conn)
            if hold and not movie_ids and not dry_run:
                held_by, reason, held_at = hold
                message = f"the migration is on hold since {utc(held_at)} (run {held_by}): {reason}; trigger with resume=true to go on"
                self.log.warning("%s", message)
                raise AirflowSkipException(message)
            claimed = catalog.claim_movies(
                conn, run_id=context["run_id"], movie_ids=movie_ids, limit=int(params.get("limit") or settings.wave_size),
                force=bool(params.get("force")), ttl_minutes=settings.claim_ttl_minutes, dry_run=dry_run,
            )  # fmt: skip
        self.log.info("selected %d movie(s): %s", len(claimed), [c.movie_id for c in claimed])
        if movie_ids:
            passed_over = sorted(set(movie_ids) - {c.movie_id for c in claimed})
            if passed_over:
                self.log.warning(
                    "not selected (missing, not an MP4, already converted without force, or claimed by another run): %s",
                    passed_over,
                )
        return [vars(c) for c in claimed]


class FinishRunOperator(BaseOperator):
    """Closes the run: logs one line per movie; after a dry run, logs and saves the estimate;
    otherwise sets a hold when the wave's failure rate is over ``hls_max_failure_rate``, and fails
    the run when any movie failed, so that the run shows red and a clear re-runs only what failed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)

    def execute(self, context: Any) -> None:
        settings = load_settings()
        dag_id, run_id = context["ti"].dag_id, context["run_id"]
        with CatalogHook().connection() as conn:
            outcome = catalog.run_outcome(conn, dag_id=dag_id, run_id=run_id)
            for movie_id, status, error_class, message in outcome:
                self.log.info("movie %s: %s%s", movie_id, status, f" [{error_class}] {message}" if error_class else "")
            if context["params"].get("dry_run"):
                self.report_estimate(conn, settings, dag_id, run_id)
                return
            reason = hold_reason([row[1] for row in outcome], [row[2] for row in outcome], settings.max_failure_rate)
            if reason:
                catalog.set_hold(conn, run_id=run_id, reason=reason)
                self.log.error("scheduled runs take no new movies until resumed: %s", reason)
        failed = [row[0] for row in outcome if row[1] == "failed"]
        if failed:
            raise AirflowFailException(f"{len(failed)} of {len(outcome)} movie(s) failed: {failed}")

    def report_estimate(self, conn, settings: Settings, dag_id: str, run_id: str) -> None:
        measured, transcodes = catalog.measured_transcode_cost(conn)
        result = estimate(
            catalog.dry_run_movies(conn, dag_id=dag_id, run_id=run_id),
            audio_kbps=settings.audio_bitrate_kbps,
            cpu_seconds_per_megapixel_second=measured or settings.cpu_seconds_per_megapixel_second,
            speed_measured_on=transcodes if measured else 0,
            prices=settings.prices,
        )
        for line in result.lines():
            self.log.info("estimate: %s", line)
        catalog.save_estimate(conn, run_id=run_id, estimate=result)


class RollbackOperator(BaseOperator):
    """Puts each movie's original MP4 URL back into ``video_url`` and ledgers it; the HLS objects
    stay in storage. Reads the DAG param ``movie_ids``."""

    def execute(self, context: Any) -> list[int]:
        movie_ids = [int(i) for i in context["params"].get("movie_ids") or []]
        if not movie_ids:
            raise AirflowFailException("no movie_ids given: nothing to roll back")
        rolled_back = []
        with CatalogHook().connection() as conn:
            for movie_id in movie_ids:
                restored = catalog.roll_back(conn, attempt_key(context, movie_id))
                if restored is None:
                    self.log.warning("movie %s: video_url is not a published conversion, nothing to roll back", movie_id)
                else:
                    self.log.info("movie %s: video_url restored to %s", movie_id, restored)
                    rolled_back.append(movie_id)
        return rolled_back
