"""How one movie's tasks hand their work to each other: through object storage, so that each task may
run on a different worker, and through the worker's cache when the next task runs on the same one.

A step calls this module at its start (``local_source``, ``receive``) and at its end
(``hand_over``); everything in between works on local folders.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import MovieJob
from hls_operators.edges.source import SourceRules, download_source
from hls_operators.edges.storage import ObjectStore
from hls_operators.edges.worker_cache import WorkerCache
from hls_operators.settings import Settings

AUDIO_TAR = "audio.tar"
RENDITIONS_TAR = "renditions.tar"
THUMBNAILS_TAR = "thumbnails.tar"
MANIFEST = "manifest.json"  # what the upload step stored: the verification's list of expected objects
WORKER_CACHE_DIR = "hls-worker-cache"  # under the work folder (tmp_dir), beside the tasks' own folders


def chunk_tar(index: int) -> str:
    return f"chunk_{index:03d}.tar"


def worker_cache(work_root: Path, settings: Settings) -> WorkerCache:
    """The cache beside the tasks' work folders under ``work_root``: on the same disk, for hard links
    and renames."""
    return WorkerCache(
        work_root / WORKER_CACHE_DIR,
        budget_bytes=settings.worker_cache_bytes,
        max_age_seconds=settings.claim_ttl_minutes * 60,
    )


def local_source(
    source_url: str, movie_id: int, version: str, *, store: ObjectStore, settings: Settings, work: Path
) -> Path:
    """Conversion ``version``'s source as ``work/source.mp4``: linked from this worker's cache when
    an earlier task of the same conversion ran here, else downloaded."""

    def download(target: Path) -> Path:
        return download_source(source_url, target, store=store, rules=SourceRules.from_settings(settings))

    # The URL's hash too: a caller that reuses a version for another source never gets a stale file.
    key = f"{movie_id}-{version}-{hashlib.sha256(source_url.encode()).hexdigest()[:16]}.mp4"
    return worker_cache(work.parent, settings).link_or_download(key, work / "source.mp4", download)


def pack(folder: Path, stream: BinaryIO) -> None:
    """A hand-off tar, written to ``stream`` as it is made: ``folder``'s contents at its root."""
    with tarfile.open(fileobj=stream, mode="w|") as tar:
        tar.add(folder, arcname=".")


def hand_over(folder: Path, job: MovieJob, name: str, *, store: ObjectStore, settings: Settings, work: Path) -> None:
    """Upload ``folder`` as the tar ``name`` for the movie's next step (packed while it uploads),
    and move it into this worker's cache for when that step runs here."""
    key = job.work_key(settings.work_prefix, name)
    store.upload_stream(key, lambda stream: pack(folder, stream))
    etag = store.etag(key)
    if etag is not None:
        worker_cache(work.parent, settings).keep(_cache_entry(job, name, etag), folder)


def receive(
    job: MovieJob, name: str, target: Path, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger
) -> None:
    """The hand-off ``name`` in the folder ``target``: from this worker's cache when it holds exactly
    what storage holds, else downloaded and unpacked."""
    key = job.work_key(settings.work_prefix, name)
    etag = store.etag(key)
    if etag is not None and worker_cache(work.parent, settings).take(_cache_entry(job, name, etag), target):
        log.info("movie %s: %s taken from this worker's cache", job.movie_id, name)
        return
    tar_path = work / name
    store.download_file(key, tar_path)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")  # "data": no absolute paths, links or devices
    tar_path.unlink()


def discard_handoffs(movie_id: int, *, store: ObjectStore, settings: Settings) -> int:
    """Delete the movie's hand-offs, every attempt's: those of earlier attempts that failed after
    storing some were kept so that clearing their failed tasks could go on from them, which is
    over once the movie plays from HLS or the application changed it. Returns how many objects went."""
    return store.delete_prefix(f"{settings.work_prefix}/{movie_id}")


def discard_unpublished(job: MovieJob, *, store: ObjectStore, settings: Settings) -> int:
    """Delete the set this attempt uploaded and the movie's hand-offs, once the catalog can no longer
    point at them (the application changed the movie meanwhile). Returns how many objects went."""
    removed = store.delete_prefix(job.output_prefix(settings.output_prefix))
    return removed + discard_handoffs(job.movie_id, store=store, settings=settings)


def _cache_entry(job: MovieJob, name: str, etag: str) -> str:
    return f"{job.movie_id}-{job.version}-{Path(name).stem}-{hashlib.sha256(etag.encode()).hexdigest()[:16]}"


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
