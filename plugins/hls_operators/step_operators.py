"""The operators of one movie's steps, each a thin shell over its function in ``steps.py``:
probe, the chunk list and each chunk's encode, audio, package, thumbnails, upload, verify and flip.
``operators.MovieStepOperator`` gives each the claim, the ledger and its temporary folder."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from hls_operators import steps
from hls_operators.core.publishing import new_version
from hls_operators.hooks import CatalogHook
from hls_operators.operators import MOVIES_PUBLISHED, MovieOperator, MovieStepOperator


class ProbeOperator(MovieStepOperator):
    """Fetches the source, runs ffprobe, refuses bad input and plans the ladder.

    :param movie: a claimed movie: ``movie_id``, ``source_url``, ``expected_url``.
    """

    step = "probe"
    skip_in_dry_run = False

    def run_step(self, settings, ledger_id, work, context):
        claimed = self.claimed
        job = steps.probe_movie(
            movie_id=claimed.movie_id,
            source_url=claimed.source_url,
            expected_url=claimed.expected_url,
            version=new_version(),
            store=self.store(settings),
            settings=settings,
            work=work,
        )
        p = job.probe
        self.log.info(
            "movie %s: %s %dx%d %s fps, %.1f s, audio %s; ladder %s",
            job.movie_id,
            p.video_codec,
            p.width,
            p.height,
            p.frame_rate,
            p.duration,
            p.audio_codec or "none",
            ", ".join(
                f"{r.name} {r.width}x{r.height} " + ("copied" if r.source_copy else f"{r.video_kbps}k")
                for r in job.ladder
            ),
        )
        self.log.info(
            "movie %s: encoded in %d chunk(s) starting at %s s",
            job.movie_id,
            len(job.chunks),
            [c.start for c in job.chunks],
        )
        fields = {
            "probe": p.to_dict(),
            "ladder": [r.to_dict() for r in job.ladder],
            "output_prefix": job.output_prefix(settings.output_prefix),
        }
        if context["params"].get("dry_run"):
            fields["status"] = "dry_run"
        return job.to_dict(), fields


class ChunksOperator(MovieOperator):
    """The indexes of a probed movie's chunks, for the encode task mapped over them (an empty list
    in a dry run, which encodes nothing). ``movie`` is the probe step's payload.
    """

    def execute(self, context: Any) -> list[int]:
        if context["params"].get("dry_run"):
            return []
        return list(range(len(self.job().chunks)))


class EncodeChunkOperator(MovieStepOperator):
    """Encodes one chunk of the movie's timeline for every rung in one ffmpeg process (one decode).

    :param movie: the probe step's payload.
    :param chunk_index: which chunk of the movie this task encodes (mapped over ``ChunksOperator``'s list).
    """

    def __init__(self, *, chunk_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chunk_index = chunk_index
        self.step = f"encode_{chunk_index}"

    def run_step(self, settings, ledger_id, work, context):
        job = self.job()
        usage = steps.encode_chunk(
            job,
            self.chunk_index,
            store=self.store(settings),
            settings=settings,
            work=work,
            log=self.log,
            on_progress=self.progress_to_ledger(ledger_id, job.chunk_seconds(job.chunks[self.chunk_index])),
        )
        return None, {"details": usage.ledger_details()}


class AudioOperator(MovieStepOperator):
    """Encodes each audio track once for every rung, beside the chunk encodes, so that the package
    step only copies; skipped when the movie has no audio.

    :param movie: the probe step's payload.
    """

    step = "audio"

    def execute(self, context: Any) -> Any:
        job = self.job()
        if not job.probe.audio_tracks:
            raise AirflowSkipException(f"movie {job.movie_id} has no audio track")
        return super().execute(context)

    def run_step(self, settings, ledger_id, work, context):
        usage = steps.encode_audio(self.job(), store=self.store(settings), settings=settings, work=work, log=self.log)
        return None, {"details": usage.ledger_details()}


class PackageOperator(MovieStepOperator):
    """Stitches the chunks of each rung and the encoded audio tracks into their HLS folders, with
    I-frame playlists, subtitle renditions and the storyboard: copies only, so it takes seconds
    where the encode took minutes. The ledger's step says which audio and subtitle tracks were
    carried over, and which could not be.

    :param movie: the probe step's payload.
    """

    step = "package"

    def __init__(self, **kwargs: Any) -> None:
        # Runs after its chunk tasks, some of which are skipped when a movie has fewer chunks, and
        # the audio task, skipped for a silent movie.
        kwargs.setdefault("trigger_rule", "none_failed")
        super().__init__(**kwargs)

    def run_step(self, settings, ledger_id, work, context):
        job = self.job()
        renditions, usage = steps.package_movie(
            job,
            store=self.store(settings),
            settings=settings,
            work=work,
            log=self.log,
            on_progress=self.progress_to_ledger(ledger_id, job.probe.duration),
        )
        packaged = renditions.to_dict()
        details = {**usage.ledger_details(), **renditions.carried_over(), "dropped_rungs": packaged["dropped"]}
        return None, {"ladder": packaged["video"], "details": details}


class ThumbnailsOperator(MovieStepOperator):
    """Evenly spaced JPEG thumbnails at most ``hls_thumbnail_width`` wide, plus a contact sheet.

    :param movie: the probe step's payload.
    """

    step = "thumbnails"

    def run_step(self, settings, ledger_id, work, context):
        count = steps.thumbnail_movie(
            self.job(), store=self.store(settings), settings=settings, work=work, log=self.log
        )
        return count, {}


class UploadOperator(MovieStepOperator):
    """Uploads segments, playlists and thumbnails with their Content-Type and Cache-Control, in
    parallel, the master playlist last.

    :param movie: the probe step's payload.
    """

    step = "upload"

    def run_step(self, settings, ledger_id, work, context):
        published = steps.publish_movie(
            self.job(), store=self.store(settings), settings=settings, work=work, log=self.log
        )
        return None, {"output_prefix": published.output_prefix, "bytes": published.bytes}


class VerifyAndFlipOperator(MovieStepOperator):
    """Verifies the uploaded set, then flips ``video_url`` to the master playlist in one transaction
    with the ledger, only if the application has not changed ``video_url`` meanwhile. Each movie it
    publishes is an event of the Asset ``hls_movies_published`` (extra: movie_id, master_url,
    version), which other DAGs can schedule on.

    :param movie: the probe step's payload.
    """

    step = "verify_and_flip"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [MOVIES_PUBLISHED])
        super().__init__(**kwargs)

    def run_step(self, settings, ledger_id, work, context):
        job = self.job()
        url = steps.verify_and_flip(
            job,
            ledger_id=ledger_id,
            step=self.step,
            store=self.store(settings),
            settings=settings,
            connect=CatalogHook().connection,
            log=self.log,
        )
        context["outlet_events"][MOVIES_PUBLISHED].extra = {
            "movie_id": job.movie_id,
            "master_url": url,
            "version": job.version,
        }
        return url, None  # the flip closed the step's ledger entry in its own transaction
