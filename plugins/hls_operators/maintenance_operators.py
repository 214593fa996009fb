"""The Airflow shells of the maintenance DAGs: roll movies back, sweep what nothing can reach,
retire originals, warm the CDN. Each calls its function in ``maintenance.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hls_operators import maintenance
from hls_operators.edges import catalog
from hls_operators.hooks import CatalogHook, StorageHook
from hls_operators.operators import MOVIES_PUBLISHED, attempt_key
from hls_operators.settings import load_settings


class RollbackOperator(BaseOperator):
    """Puts each movie's original MP4 URL back into ``video_url`` and ledgers it; the HLS objects
    stay in storage. A retired movie's MP4 is first restored from the archive. Reads the DAG param
    ``movie_ids``."""

    def execute(self, context: Any) -> list[int]:
        movie_ids = [int(i) for i in context["params"].get("movie_ids") or []]
        if not movie_ids:
            raise AirflowFailException("no movie_ids given: nothing to roll back")
        settings = load_settings()
        store = StorageHook().object_store(settings.bucket)
        rolled_back = []
        with CatalogHook().connection() as conn:
            for movie_id in movie_ids:
                if catalog.published_master(conn, movie_id) is not None:
                    maintenance.restore_original(
                        movie_id,
                        store=store,
                        settings=settings,
                        connect=CatalogHook().connection,
                        run_id=context["run_id"],
                        log=self.log,
                    )
                restored = catalog.roll_back(conn, attempt_key(context, movie_id))
                if restored is None:
                    self.log.warning(
                        "movie %s: video_url is not a published conversion, nothing to roll back", movie_id
                    )
                else:
                    self.log.info("movie %s: video_url restored to %s", movie_id, restored)
                    rolled_back.append(movie_id)
        return rolled_back


class SweepOperator(BaseOperator):
    """Deletes the published sets and hand-offs that nothing can reach any more: versions a forced
    re-conversion superseded, and what attempts that failed after uploading left, once older than
    the grace period. Reads the DAG params ``dry_run`` (default: only list them, with their bytes)
    and ``grace_days``."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        settings = load_settings()
        params = context["params"]
        found = maintenance.sweep(
            store=StorageHook().object_store(settings.bucket),
            settings=settings,
            connect=CatalogHook().connection,
            grace=timedelta(days=float(params.get("grace_days") or settings.sweep_grace_days)),
            dry_run=bool(params.get("dry_run", True)),
            log=self.log,
        )
        return [{"prefix": s.prefix, "objects": s.objects, "bytes": s.bytes} for s in found]


class RetireOriginalsOperator(BaseOperator):
    """Archives, then deletes, the MP4 of each movie that has played from HLS for the grace period
    and whose published set passes verification again; never an MP4 another catalog row names.
    Reads the DAG params ``movie_ids``, ``older_than_days`` and ``dry_run`` (default: only say
    which, and the bytes that would be reclaimed)."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        settings = load_settings()
        params = context["params"]
        outcomes = maintenance.retire_originals(
            store=StorageHook().object_store(settings.bucket),
            settings=settings,
            connect=CatalogHook().connection,
            movie_ids=[int(i) for i in params.get("movie_ids") or []] or None,
            grace=timedelta(
                days=float(
                    params.get("older_than_days")
                    if params.get("older_than_days") is not None
                    else settings.retire_grace_days
                )
            ),
            dry_run=bool(params.get("dry_run", True)),
            run_id=context["run_id"],
            log=self.log,
        )
        return [{"movie_id": o.movie_id, "status": o.status, "bytes": o.bytes, "reason": o.reason} for o in outcomes]


class WarmUpOperator(BaseOperator):
    """For each movie published since the last run (the ``hls_movies_published`` Asset events that
    triggered this one), requests from the CDN what a player asks for first: the master, its
    playlists and their first ``segments`` segments.

    :param segments: how many segments of each rendition to request.
    """

    def __init__(self, *, segments: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.segments = segments

    def execute(self, context: Any) -> list[int]:
        published = [
            (event.extra.get("movie_id"), str(event.extra.get("master_url")))
            for event in context["triggering_asset_events"][MOVIES_PUBLISHED]
        ]
        return maintenance.warm_up_published(published, settings=load_settings(), segments=self.segments, log=self.log)
