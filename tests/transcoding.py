"""The DAG's steps on one machine, in the DAG's order: the transcode stage (each chunk task's step,
the audio's, then the package task's), and a source's whole way from probe to a verified, published set."""

from __future__ import annotations

import logging
from pathlib import Path

from hls_operators.core.job import MovieJob
from hls_operators.core.renditions import Renditions
from hls_operators.core.step_graph import steps_through
from hls_operators.edges.ffmpeg import FfmpegUsage
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import Settings
from hls_operators.steps import (
    encode_audio,
    encode_chunk,
    package_movie,
    probe_movie,
    publish_movie,
    thumbnail_movie,
    verify_movie,
)


def run_steps(
    job: MovieJob, upto: str, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger
) -> tuple[Renditions, FfmpegUsage] | None:
    """The steps after the probe that ``upto`` needs, in ``core/step_graph.py``'s order (``verify_and_flip``
    verifies as the flip does, without flipping; raises on any broken rule), each task in a folder
    of its own under ``work``: the tasks of one worker, which share its cache
    (``tests/integration/test_handoffs.py`` hands over between workers). Returns what the package
    step returned, once it ran."""
    packaged = None
    for step in steps_through(upto)[1:]:  # the job is the probe's
        folder = work / step
        folder.mkdir(parents=True)
        if step == "encode":
            for chunk in job.chunks:
                (folder / str(chunk.index)).mkdir()
                encode_chunk(job, chunk.index, store=store, settings=settings, work=folder / str(chunk.index), log=log)
        elif step == "audio" and job.probe.audio_tracks:
            encode_audio(job, store=store, settings=settings, work=folder, log=log)
        elif step == "package":
            packaged = package_movie(job, store=store, settings=settings, work=folder, log=log)
        elif step == "thumbnails":
            thumbnail_movie(job, store=store, settings=settings, work=folder, log=log)
        elif step == "upload":
            publish_movie(job, store=store, settings=settings, work=folder, log=log)
        elif step == "verify_and_flip":
            verify_movie(job, store=store, settings=settings)
    return packaged


def transcode(
    job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger | None = None
) -> tuple[Renditions, FfmpegUsage]:
    """The transcode stage on one machine: every chunk, the audio (when there is some), then the package."""
    packaged = run_steps(
        job, "package", store=store, settings=settings, work=work, log=log or logging.getLogger(__name__)
    )
    assert packaged is not None
    return packaged


def upload_and_probe(
    source: Path, movie_id: int, *, store: ObjectStore, settings: Settings, work: Path, chunk_slots: int | None = None
) -> MovieJob:
    """``source`` uploaded as ``uploads/<movie_id>/<name>`` and probed as the probe task probes it,
    in ``work`` (made here): the job every later step starts from."""
    key = f"uploads/{movie_id}/{source.name}"
    store.upload_file(source, key)
    url = f"s3://{store.bucket}/{key}"
    work.mkdir(parents=True, exist_ok=True)
    return probe_movie(
        movie_id=movie_id,
        source_url=url,
        expected_url=url,
        version="v1",
        store=store,
        settings=settings,
        work=work,
        chunk_slots=chunk_slots,
    )


def publish(source: Path, movie_id: int, *, store: ObjectStore, settings: Settings, work: Path) -> tuple[MovieJob, str]:
    """``source`` uploaded, probed, and taken through every step, verified as the flip verifies it
    (Apple's rules included); returns the job and the set's prefix in the bucket."""
    job = upload_and_probe(source, movie_id, store=store, settings=settings, work=work / "probe")
    run_steps(job, "verify_and_flip", store=store, settings=settings, work=work, log=logging.getLogger(source.stem))
    return job, job.output_prefix(settings.output_prefix)
