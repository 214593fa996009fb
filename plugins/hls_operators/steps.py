"""One function per task of a movie's conversion, without Airflow.

Each step takes what the earlier steps handed over (``edges/handoff.py``) at its start, does its
media work on local folders (``media/``) and hands its result over at its end. Each works in its
own temporary folder ``work``, which the caller removes.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hls_operators.core import publishing
from hls_operators.core.conformance import check_conformance
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import MovieJob
from hls_operators.core.ladder import Rung
from hls_operators.core.retirement import Retirement, archive_location, other_references
from hls_operators.core.sweep import StoredSet, group_sets, sweepable
from hls_operators.core.trickplay import STORYBOARD_DIR, STORYBOARD_VTT
from hls_operators.core.verify import VerifiedSet, verify_hls_set
from hls_operators.core.webhook import EVENTS, event_body
from hls_operators.edges import catalog
from hls_operators.edges.cdn import warm_up
from hls_operators.edges.ffmpeg import FfmpegUsage, Progress
from hls_operators.edges.handoff import (
    AUDIO_TAR,
    MANIFEST,
    RENDITIONS_TAR,
    THUMBNAILS_TAR,
    chunk_tar,
    discard_handoffs,
    discard_unpublished,
    hand_over,
    local_source,
    receive,
    worker_cache,
)
from hls_operators.edges.source import storage_location
from hls_operators.edges.storage import ObjectStore
from hls_operators.edges.webhook import Delivery, deliver
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
    return settings.public_url(f"{job.output_prefix(settings.output_prefix)}/{publishing.MASTER_PLAYLIST}")


def estimated_output_bytes(rungs: list[Rung], seconds: float, audio_kbps: int) -> int:
    """Renditions at their peak rates, plus the hand-off tar of them: what the work folder must hold."""
    kbps = sum(rung.maxrate_kbps + audio_kbps for rung in rungs)
    return int(kbps * 1000 / 8 * seconds * 2)


def check_free_space(work: Path, needed_bytes: int, settings: Settings) -> None:
    """Fail before encoding rather than after filling the disk; the worker's cache gives way first."""
    if shutil.disk_usage(work).free < needed_bytes:
        worker_cache(work.parent, settings).clear()
    free = shutil.disk_usage(work).free
    if free < needed_bytes:
        raise MigrationError(
            ErrorClass.DISK_FULL,
            f"the work folder has {free / 1e6:.0f} MB free, the transcode needs about {needed_bytes / 1e6:.0f} MB",
        )


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
) -> dict:
    """Stitch the chunks the encode tasks handed over into each rung's HLS folder, with the audio
    tracks the audio task handed over, the subtitle renditions, I-frame playlists and storyboard,
    and hand the renditions over."""
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
    (out / RENDITIONS_INFO).write_text(json.dumps(renditions))
    hand_over(out, job, RENDITIONS_TAR, store=store, settings=settings, work=work)
    for dropped in renditions["not_carried"]:
        log.warning(
            "movie %s: track %s (%s) is not carried over: %s",
            job.movie_id,
            dropped["track"],
            dropped["codec"],
            dropped["reason"],
        )
    return {"renditions": renditions, "usage": usage, "carried_over": carried_over(renditions)}


def carried_over(renditions: dict) -> dict:
    """What the ledger keeps of the tracks: the audio and subtitle languages published, and the
    tracks that could not be carried over with the reason."""
    return {
        "audio": [
            {"language": r["language"], "name": r["label"], "default": r["default"]} for r in renditions["audio"]
        ],
        "subtitles": [
            {"language": r["language"], "name": r["label"], "forced": r["forced"]} for r in renditions["subtitles"]
        ],
        "not_carried": renditions["not_carried"],
    }


def thumbnail_movie(job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger) -> int:
    """Evenly spaced JPEG thumbnails plus a contact sheet, handed over through storage."""
    source = local_source(job.source_url, job.movie_id, job.version, store=store, settings=settings, work=work)
    handoff = work / "handoff"  # the thumbnails' folder as it will be in the published set
    count = make_thumbnails(
        source,
        job,
        handoff / publishing.THUMBNAIL_DIR,
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
    renditions = json.loads((folder / RENDITIONS_INFO).read_text())
    (folder / RENDITIONS_INFO).unlink()
    (folder / publishing.MASTER_PLAYLIST).write_text(build_master(renditions, folder))

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
    master = store.read_text(f"{prefix}/{publishing.MASTER_PLAYLIST}")
    media = {
        path: store.read_text(f"{prefix}/{path}")
        for path in expected
        if path.endswith(".m3u8") and path != publishing.MASTER_PLAYLIST and path in stored
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


def notify_application(
    movie_id: int,
    run_id: str,
    *,
    endpoint: tuple[str, str],
    settings: Settings,
    connect: Callable[[], AbstractContextManager],
    log: logging.Logger,
) -> bool:
    """POST a movie that is now ready or failed to the application's webhook (``endpoint``: URL and
    secret): its status row, signed, retried, every try recorded. Returns whether it was delivered."""
    with connect() as conn:
        status = catalog.movie_status(conn, movie_id)
    if status is None or status["state"] not in EVENTS:
        return False
    event = EVENTS[status["state"]]

    def record(delivery: Delivery) -> None:
        with connect() as conn:
            catalog.record_delivery(
                conn,
                movie_id=movie_id,
                run_id=run_id,
                event=event,
                attempt=delivery.attempt,
                status_code=delivery.status_code,
                detail=delivery.detail,
            )

    url, secret = endpoint
    return deliver(
        url,
        secret,
        event_body(status, run_id),
        attempts=settings.webhook_attempts,
        first_backoff=settings.webhook_first_backoff_seconds,
        timeout=settings.webhook_timeout_seconds,
        record=record,
        log=log,
    )


def sweep(
    *,
    store: ObjectStore,
    settings: Settings,
    connect: Callable[[], AbstractContextManager],
    grace: timedelta,
    dry_run: bool,
    log: logging.Logger,
) -> list[StoredSet]:
    """Delete the published sets and hand-offs nothing can reach any more (``core/sweep.py``), or
    with ``dry_run`` only list them; returns them, with their objects and bytes."""
    with connect() as conn:
        references = catalog.sweep_references(conn)
    found = []
    for root in (settings.output_prefix, settings.work_prefix):
        sets = group_sets(root, store.list_sizes(root))
        found += sweepable(
            sets,
            references,
            master_url=lambda s: settings.public_url(f"{s.prefix}/{publishing.MASTER_PLAYLIST}"),
            now=datetime.now(UTC),
            grace=grace,
        )
    for stored in found:
        log.info(
            "%s %s: %d objects, %d bytes",
            "would delete" if dry_run else "deleting",
            stored.prefix,
            stored.objects,
            stored.bytes,
        )
        if not dry_run:
            store.delete_prefix(stored.prefix)
    log.info(
        "%s %d set(s), %d bytes", "would reclaim" if dry_run else "reclaimed", len(found), sum(s.bytes for s in found)
    )
    return found


def warm_up_published(
    published: list[tuple[int, str]], *, settings: Settings, segments: int, log: logging.Logger
) -> list[int]:
    """Warm the CDN for each ``(movie, master URL)`` an Asset event announced; returns the movies
    warmed. An event whose URL is not under the public base is skipped with a warning: Airflow's
    stock roles may post Asset events, and no such event makes the pipeline fetch other URLs."""
    warmed = []
    for movie_id, master_url in published:
        try:
            requested = warm_up(
                master_url,
                public_base_url=settings.public_base_url,
                segments=segments,
                timeout=settings.http_timeout_seconds,
            )
        except MigrationError as error:
            if error.error_class is not ErrorClass.SOURCE_FORBIDDEN:
                raise
            log.warning("movie %s: %s", movie_id, error.message)
            continue
        log.info("movie %s: %d objects requested from %s", movie_id, requested, master_url)
        warmed.append(movie_id)
    return warmed


def retire_originals(
    *,
    store: ObjectStore,
    settings: Settings,
    connect: Callable[[], AbstractContextManager],
    movie_ids: list[int] | None,
    grace: timedelta,
    dry_run: bool,
    run_id: str,
    log: logging.Logger,
) -> list[Retirement]:
    """Archive and then delete the MP4 of each ready movie that has played from HLS for ``grace``
    (or, with ``dry_run``, only say which and how many bytes), each outcome ledgered."""
    with connect() as conn:
        candidates = catalog.retirement_candidates(conn, grace_seconds=grace.total_seconds(), movie_ids=movie_ids)
    outcomes = []
    for movie_id, source_url, output_prefix, duration in candidates:
        with connect() as conn:  # read again for each movie: the catalog changes while originals are copied
            references = [
                (movie, what, _stored_at(url, store, settings)) for movie, what, url in catalog.mp4_references(conn)
            ]
        outcome = _retire(
            movie_id, source_url, output_prefix, duration, references, store=store, settings=settings, dry_run=dry_run
        )
        with connect() as conn:
            catalog.record_retirement(conn, run_id=run_id, retirement=outcome)
        log.info(
            "movie %s: %s %s%s", movie_id, outcome.status, source_url, f" ({outcome.reason})" if outcome.reason else ""
        )
        outcomes.append(outcome)
    reclaimed = sum(o.bytes or 0 for o in outcomes if o.status in ("retired", "dry_run"))
    log.info("%s %d bytes of originals", "would reclaim" if dry_run else "reclaimed", reclaimed)
    return outcomes


def _stored_at(url: str, store: ObjectStore, settings: Settings) -> tuple[str, str] | None:
    return storage_location(
        url, public_base_url=settings.public_base_url, bucket=store.bucket, storage_endpoint=store.endpoint
    )


def _retire(
    movie_id: int,
    source_url: str,
    output_prefix: str,
    duration: float,
    references: list[tuple[int, str, tuple[str, str] | None]],
    *,
    store: ObjectStore,
    settings: Settings,
    dry_run: bool,
) -> Retirement:
    """One movie: refused unless nothing else in the catalog resolves to its MP4, the storage holds
    it, and its published set passes verification again now; then archived, the copy checked, and
    deleted."""

    def refused(reason: str) -> Retirement:
        return Retirement(movie_id, "refused", source_url, reason=reason)

    source = _stored_at(source_url, store, settings)
    if source is None:
        return refused("the MP4 is not in the storage the pipeline's connection reaches")
    sharing = other_references(movie_id, source, references)
    if sharing:
        return refused(f"the catalog still uses this MP4: {', '.join(sharing)}")
    size = store.object_size(source[1], bucket=source[0])
    if size is None:
        return refused("the MP4 is gone already")
    try:
        verify_stored_set(store, output_prefix, store.list_sizes(output_prefix), duration)
    except MigrationError as error:
        return refused(f"its published set fails verification now: {error.message}")
    archive = archive_location(settings.archive_bucket or store.bucket, settings.archive_prefix, source)
    if dry_run:
        return Retirement(movie_id, "dry_run", source_url, "/".join(archive), size)
    store.copy(source, archive, storage_class=settings.archive_storage_class)
    checksum = store.sha256(source[1], bucket=source[0])
    if (
        store.object_size(archive[1], bucket=archive[0]) != size
        or store.sha256(archive[1], bucket=archive[0]) != checksum
    ):
        return refused("the archived copy differs from the original: the original stays")
    store.delete(source[1], bucket=source[0])
    return Retirement(movie_id, "retired", source_url, "/".join(archive), size, checksum)


def restore_original(
    movie_id: int,
    *,
    store: ObjectStore,
    settings: Settings,
    connect: Callable[[], AbstractContextManager],
    run_id: str,
    log: logging.Logger,
) -> bool:
    """Put a retired movie's MP4 back from the archive (checked against the SHA-256 it was archived
    with) before a rollback points the catalog at it; False when the movie is not retired."""
    with connect() as conn:
        retired = catalog.latest_retirement(conn, movie_id)
    if retired is None:
        return False
    archive_bucket, archive_key = retired.archive.split("/", 1)
    source = _stored_at(retired.source_url, store, settings)
    store.copy((archive_bucket, archive_key), source)
    if store.sha256(source[1], bucket=source[0]) != retired.sha256:
        raise MigrationError(
            ErrorClass.STORAGE_UNAVAILABLE, f"the MP4 restored for movie {movie_id} differs from the one archived"
        )
    with connect() as conn:
        catalog.record_retirement(conn, run_id=run_id, retirement=replace(retired, status="restored"))
    log.info("movie %s: %s restored from %s", movie_id, retired.source_url, retired.archive)
    return True
