"""One function per task of a movie's conversion, without Airflow.

Each step takes what the earlier steps handed over (``edges/handoff.py``) at its start, does its
media work on local folders (``media/``) and hands its result over at its end. Each works in its
own temporary folder ``work``, which the caller removes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from hls_operators.core import layout, publishing
from hls_operators.core.conformance import check_conformance
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import MovieJob
from hls_operators.core.ladder import Rung
from hls_operators.core.layout import STORYBOARD_DIR, STORYBOARD_VTT
from hls_operators.core.renditions import Renditions
from hls_operators.core.verify import VerifiedSet, verify_hls_set
from hls_operators.edges import catalog
from hls_operators.edges.ffmpeg import FfmpegUsage, Progress
from hls_operators.edges.handoff import (
    AUDIO_TAR,
    MANIFEST,
    RENDITIONS_TAR,
    THUMBNAILS_TAR,
    check_free_space,
    chunk_tar,
    discard_handoffs,
    discard_unpublished,
    hand_over,
    local_source,
    receive,
)
from hls_operators.edges.storage import ObjectStore
from hls_operators.media.master import build_master, local_files
from hls_operators.media.previews import make_thumbnails
from hls_operators.media.probing import plan_movie
from hls_operators.media.transcoding import audio_files, encode_audio_files, encode_chunk_files, package_renditions
from hls_operators.settings import Settings

RENDITIONS_INFO = "renditions.json"  # in the renditions hand-off: what the master playlist needs of each


@dataclass(frozen=True)
class Published:
    output_prefix: str
    objects: int
    bytes: int


def master_url(job: MovieJob, settings: Settings) -> str:
    return settings.public_url(f"{job.output_prefix(settings.output_prefix)}/{layout.MASTER_PLAYLIST}")


def estimated_output_bytes(rungs: list[Rung], seconds: float, audio_kbps: int) -> int:
    """Renditions at their peak rates, plus the hand-off tar of them: what the work folder must hold."""
    kbps = sum(rung.maxrate_kbps + audio_kbps for rung in rungs)
    return int(kbps * 1000 / 8 * seconds * 2)


def probe_movie(
    *,
    movie_id: int,
    source_url: str,
    expected_url: str,
    version: str,
    store: ObjectStore,
    settings: Settings,
    work: Path,
    chunk_slots: int | None = None,
) -> MovieJob:
    """Download the source, probe it, refuse bad input, plan the ladder and the chunks (see ``plan_movie``)."""
    source = local_source(source_url, movie_id, version, store=store, settings=settings, work=work)
    return plan_movie(
        source,
        movie_id=movie_id,
        source_url=source_url,
        expected_url=expected_url,
        version=version,
        settings=settings,
        chunk_slots=chunk_slots,
    )


def encode_chunk(
    job: MovieJob,
    index: int,
    *,
    store: ObjectStore,
    settings: Settings,
    work: Path,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None = None,
) -> FfmpegUsage:
    """Encode chunk ``index`` of every encoded rung and its storyboard tiles, and hand them over."""
    source = local_source(job.source_url, job.movie_id, job.version, store=store, settings=settings, work=work)
    check_free_space(work, estimated_output_bytes(job.encoded_rungs, job.chunk_seconds(job.chunks[index]), 0), settings)
    out = work / "chunk"
    usage = encode_chunk_files(source, job, index, out, settings=settings, log=log, on_progress=on_progress)
    hand_over(out, job, chunk_tar(index), store=store, settings=settings, work=work)
    return usage


def encode_audio(
    job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger
) -> FfmpegUsage:
    """Encode each audio track once for every rung, beside the chunk encodes, and hand them over."""
    source = local_source(job.source_url, job.movie_id, job.version, store=store, settings=settings, work=work)
    out = work / "audio"
    usage = encode_audio_files(source, job, out, settings=settings, log=log)
    hand_over(out, job, AUDIO_TAR, store=store, settings=settings, work=work)
    return usage


def package_movie(
    job: MovieJob,
    *,
    store: ObjectStore,
    settings: Settings,
    work: Path,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None = None,
) -> tuple[Renditions, FfmpegUsage]:
    """Stitch the chunks the encode tasks handed over into each rung's HLS folder, with the audio
    tracks the audio task handed over, the subtitle renditions, I-frame playlists and storyboard,
    and hand the renditions over; returns them and what ffmpeg cost."""
    probe = job.probe
    needs_source = any(rung.source_copy for rung in job.ladder) or bool(probe.subtitle_tracks)
    source = (
        local_source(job.source_url, job.movie_id, job.version, store=store, settings=settings, work=work)
        if needs_source
        else None
    )
    check_free_space(
        work, estimated_output_bytes(job.ladder, job.probe.duration, settings.audio_bitrate_kbps), settings
    )
    chunks_dir, out = work / "chunks", work / "renditions"
    for chunk in job.chunks:
        receive(
            job,
            chunk_tar(chunk.index),
            chunks_dir / str(chunk.index),
            store=store,
            settings=settings,
            work=work,
            log=log,
        )
    if probe.audio_tracks:
        receive(job, AUDIO_TAR, work / "audio", store=store, settings=settings, work=work, log=log)
    renditions, usage = package_renditions(
        job,
        chunks_dir,
        audio_files(job, work / "audio"),
        source,
        out,
        settings=settings,
        log=log,
        on_progress=on_progress,
    )
    (out / RENDITIONS_INFO).write_text(json.dumps(renditions.to_dict()))
    hand_over(out, job, RENDITIONS_TAR, store=store, settings=settings, work=work)
    for dropped in renditions.not_carried:
        log.warning(
            "movie %s: track %s (%s) is not carried over: %s",
            job.movie_id,
            dropped.track,
            dropped.codec,
            dropped.reason,
        )
    return renditions, usage


def thumbnail_movie(job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger) -> int:
    """Evenly spaced JPEG thumbnails plus a contact sheet, handed over through storage."""
    source = local_source(job.source_url, job.movie_id, job.version, store=store, settings=settings, work=work)
    handoff = work / "handoff"  # the thumbnails' folder as it will be in the published set
    count = make_thumbnails(
        source,
        job,
        handoff / layout.THUMBNAIL_DIR,
        count=settings.thumbnail_count,
        max_width=settings.thumbnail_width,
        timeout=settings.transcode_timeout_base_seconds,
        log=log,
    )
    hand_over(handoff, job, THUMBNAILS_TAR, store=store, settings=settings, work=work)
    return count


def publish_movie(
    job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger
) -> Published:
    """Upload the renditions and thumbnails under the versioned prefix, master playlist last."""
    folder = work / "publish"
    for name in (RENDITIONS_TAR, THUMBNAILS_TAR):
        receive(job, name, folder, store=store, settings=settings, work=work, log=log)
    renditions = Renditions.from_dict(json.loads((folder / RENDITIONS_INFO).read_text()))
    (folder / RENDITIONS_INFO).unlink()
    (folder / layout.MASTER_PLAYLIST).write_text(build_master(renditions, folder))

    files = local_files(folder)
    prefix = job.output_prefix(settings.output_prefix)
    for group in publishing.publish_order(list(files)):
        store.upload_many(
            [(folder / path, f"{prefix}/{path}", publishing.object_headers(path)) for path in group],
            settings.upload_concurrency,
        )
        log.info("movie %s: uploaded %d objects under %s", job.movie_id, len(group), prefix)
    store.put_text(job.work_key(settings.work_prefix, MANIFEST), json.dumps(files), {"ContentType": "application/json"})
    return Published(prefix, len(files), sum(files.values()))


def verify_movie(job: MovieJob, *, store: ObjectStore, settings: Settings) -> VerifiedSet:
    """Check the stored set against the upload manifest, the playlists and the source duration, and
    against the rules players hold it to (Apple's HLS authoring rules, RFC 8216's bandwidths)."""
    expected = json.loads(store.read_text(job.work_key(settings.work_prefix, MANIFEST)))
    return verify_stored_set(store, job.output_prefix(settings.output_prefix), expected, job.probe.duration)


def verify_stored_set(store: ObjectStore, prefix: str, expected: dict[str, int], source_duration: float) -> VerifiedSet:
    """Check the set stored under ``prefix`` against ``expected`` (``{path: size}``), its playlists,
    the source's duration and Apple's rules; raises ``verification_failed`` naming what is wrong."""
    stored = store.list_sizes(prefix)
    master = store.read_text(f"{prefix}/{layout.MASTER_PLAYLIST}")
    media = {
        path: store.read_text(f"{prefix}/{path}")
        for path in expected
        if path.endswith(".m3u8") and path != layout.MASTER_PLAYLIST and path in stored
    }
    storyboard_key = f"{prefix}/{STORYBOARD_DIR}/{STORYBOARD_VTT}"
    storyboard = store.read_text(storyboard_key) if f"{STORYBOARD_DIR}/{STORYBOARD_VTT}" in stored else None
    verified = verify_hls_set(
        stored=stored,
        expected=expected,
        master_text=master,
        media_texts=media,
        source_duration=source_duration,
        storyboard_text=storyboard,
    )
    check_conformance(master, media, stored)
    return verified


def verify_and_flip(
    job: MovieJob,
    *,
    ledger_id: int,
    step: str,
    store: ObjectStore,
    settings: Settings,
    connect: Callable[[], AbstractContextManager],
    log: logging.Logger,
) -> str:
    """Verify the stored set, then point the catalog at it and close the step's ledger entry in one
    transaction, only if the application has not changed ``video_url`` meanwhile; then delete the
    hand-offs. When it has, the set this attempt uploaded goes too: nothing will point at it.
    Returns the master URL the movie now plays from."""
    started = time.monotonic()
    verified = verify_movie(job, store=store, settings=settings)
    url = master_url(job, settings)
    try:
        with connect() as conn:
            catalog.flip_to_hls(
                conn,
                ledger_id=ledger_id,
                step=step,
                seconds=time.monotonic() - started,
                movie_id=job.movie_id,
                expected_url=job.expected_url,
                master_url=url,
                bytes_published=verified.bytes,
                segments=verified.segments,
            )
    except MigrationError as error:
        if error.error_class is ErrorClass.CATALOG_CHANGED:  # final: nothing will ever point at this set
            removed = discard_unpublished(job, store=store, settings=settings)
            log.info("movie %s: the unpublished set and hand-offs deleted (%d objects)", job.movie_id, removed)
        raise
    log.info("movie %s now plays from %s (%d segments, %d bytes)", job.movie_id, url, verified.segments, verified.bytes)
    discarded = discard_handoffs(job.movie_id, store=store, settings=settings)
    log.info("movie %s: %d hand-off objects deleted", job.movie_id, discarded)
    return url
