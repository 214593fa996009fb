"""Airflow plugin: the migration view (``/hls-migration/``) in the UI's navigation, its report of
refused movies (``/hls-migration/refused.csv``) and the application's status endpoint
(``/hls-migration/api/movies/{id}``).

The page is served by a FastAPI app inside the api-server and shown in the UI as an external
view. Airflow does not protect plugin endpoints by itself: every route requires a user allowed to
read the ``hls_migration`` DAG (the UI's session cookie or a bearer token), except the transcode
pool's slot count (``/hls-migration/api/pool``), which the preflight task asks for: a task has no
user, and may not read the metadata database itself.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


def build_app():
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse, Response

    from hls_operators.core.refused_report import refused_csv
    from hls_operators.core.view import render_page
    from hls_operators.edges.catalog import movie_status
    from hls_operators.edges.summary import load_summary, refused_movies
    from hls_operators.hooks import CatalogHook
    from hls_operators.settings import DAG_ID, TRANSCODE_POOL

    app = FastAPI(title="HLS migration view")
    readers_of_the_dag = Depends(requires_access_dag("GET", param_dag_id=DAG_ID))

    @app.get("/", response_class=HTMLResponse, dependencies=[readers_of_the_dag])
    def migration_view() -> str:
        with CatalogHook().connection() as conn:
            return render_page(load_summary(conn))

    @app.get("/refused.csv", dependencies=[readers_of_the_dag])
    def refused_report() -> Response:
        """Every movie whose source was refused as bad input, for the catalog's owners."""
        with CatalogHook().connection() as conn:
            body = refused_csv(refused_movies(conn))
        headers = {"Content-Disposition": 'attachment; filename="hls-refused-movies.csv"'}
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)

    @app.get("/api/movies/{movie_id}", dependencies=[readers_of_the_dag])
    def movie_status_endpoint(movie_id: int) -> dict:
        """The application's read of one movie (docs/contract.md): its row of hls_movie_status."""
        with CatalogHook().connection() as conn:
            status = movie_status(conn, movie_id)
        if status is None:
            raise HTTPException(status_code=404, detail=f"movie {movie_id} has not been seen by the migration")
        return status

    @app.get("/api/pool")
    def transcode_pool() -> dict:
        """The pipeline's pool as the scheduler sees it (slots None: no such pool). It tells no more
        than docs/operating.md does: the pool's name and its size."""
        from airflow.models.pool import Pool

        pool = Pool.get_pool(TRANSCODE_POOL)
        return {"pool": TRANSCODE_POOL, "slots": pool.slots if pool is not None else None}

    return app


class LazyApp:
    """Builds the app on its first request: every task process imports the plugins too, and must
    not pay for loading the api-server's modules."""

    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope, receive, send) -> None:
        if self.app is None:
            self.app = build_app()
        await self.app(scope, receive, send)


class MigrationViewPlugin(AirflowPlugin):
    name = "hls_migration_view"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": "/hls-migration", "name": "HLS migration view"}]
    external_views = [
        {"name": "HLS migration", "href": "/hls-migration/", "destination": "nav", "url_route": "hls-migration"}
    ]
