"""The tasks that look after the catalog once movies are converted, without Airflow: telling the
application, sweeping what nothing can reach, warming the CDN, retiring and restoring originals.
The movie's own conversion steps are in ``steps.py``.
"""

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hls_operators.core import layout
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.retirement import Retirement, archive_location, other_references
from hls_operators.core.sweep import StoredSet, group_sets, sweepable
from hls_operators.core.webhook import EVENTS, event_body
from hls_operators.edges import catalog, ledger
from hls_operators.edges.cdn import warm_up
from hls_operators.edges.source import storage_location
from hls_operators.edges.storage import ObjectStore
from hls_operators.edges.webhook import Delivery, deliver
from hls_operators.settings import Settings
from hls_operators.steps import verify_stored_set


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
            ledger.record_delivery(
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
            master_url=lambda s: settings.public_url(f"{s.prefix}/{layout.MASTER_PLAYLIST}"),
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
