"""The DAG's steps on one machine: the transcode stage (each chunk task's step, then the package
task's), and a source's whole way from probe to a verified, published set."""

from __future__ import annotations

import logging
from pathlib import Path

from hls_operators.core.job import MovieJob
from hls_operators.core.renditions import Renditions
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


def transcode(
    job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger | None = None
) -> tuple[Renditions, FfmpegUsage]:
    """Every chunk in turn, each in a folder of its own, the audio (when there is some), then the
    package: the tasks of one worker, which share its cache (``tests/integration/test_handoffs.py``
    hands over between workers)."""
    log = log or logging.getLogger(__name__)
    for chunk in job.chunks:
        folder = work / f"encode_{chunk.index}"
        folder.mkdir(parents=True)
        encode_chunk(job, chunk.index, store=store, settings=settings, work=folder, log=log)
    if job.probe.audio_tracks:
        (work / "audio").mkdir()
        encode_audio(job, store=store, settings=settings, work=work / "audio", log=log)
    (work / "package").mkdir()
    return package_movie(job, store=store, settings=settings, work=work / "package", log=log)


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
    """``source`` uploaded, probed, transcoded, thumbnailed, published and verified as the flip
    verifies it (Apple's rules included); returns the job and the set's prefix in the bucket."""
    log = logging.getLogger(source.stem)
    for step in ("transcode", "thumbs", "upload"):
        (work / step).mkdir(parents=True)
    job = upload_and_probe(source, movie_id, store=store, settings=settings, work=work / "probe")
    transcode(job, store=store, settings=settings, work=work / "transcode", log=log)
    thumbnail_movie(job, store=store, settings=settings, work=work / "thumbs", log=log)
    publish_movie(job, store=store, settings=settings, work=work / "upload", log=log)
    verify_movie(job, store=store, settings=settings)  # raises on any broken rule
    return job, job.output_prefix(settings.output_prefix)
