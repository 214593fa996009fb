"""Hooks: turn the pipeline's Airflow connections into clients. Operators never build clients."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg2
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import CATALOG_CONN_ID, STORAGE_CONN_ID, WEBHOOK_CONN_ID

CONNECT_TIMEOUT_SECONDS = 10


class CatalogHook(BaseHook):
    """psycopg2 connections to the catalog database (connection ``hls_catalog``, type postgres).

    psycopg2 rather than PostgresHook's client: the catalog functions rely on psycopg2's
    ``with conn:`` meaning one transaction on a connection that stays open.
    """

    def __init__(self, conn_id: str = CATALOG_CONN_ID):
        super().__init__()
        self.conn_id = conn_id

    @contextmanager
    def connection(self):
        """A connection for a few statements: steps never hold one across a long transcode, so a
        database restart or an idle timeout during the transcode costs nothing."""
        conn = self.get_conn()
        try:
            yield conn
        finally:
            conn.close()

    def get_conn(self):
        conn = self.get_connection(self.conn_id)
        extra = conn.extra_dejson
        return psycopg2.connect(
            host=conn.host or "127.0.0.1",
            port=conn.port or 5432,
            user=conn.login,
            password=conn.password,
            dbname=conn.schema,
            sslmode=extra.get("sslmode", "prefer"),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="hls-migration",
        )


class StorageHook(S3Hook):
    """An ``ObjectStore`` for one bucket over connection ``hls_storage`` (type aws, ``endpoint_url``
    in extra for R2, Spaces, MinIO or SeaweedFS)."""

    def __init__(self, conn_id: str = STORAGE_CONN_ID):
        super().__init__(aws_conn_id=conn_id)

    def object_store(self, bucket: str) -> ObjectStore:
        return ObjectStore(self.get_conn(), bucket)


class WebhookHook(BaseHook):
    """The application's webhook (connection ``hls_webhook``, type http): the URL to POST to in
    ``host`` (with its scheme and path), the signing secret in ``password``."""

    def __init__(self, conn_id: str = WEBHOOK_CONN_ID):
        super().__init__()
        self.conn_id = conn_id

    def endpoint(self) -> tuple[str, str] | None:
        """(URL, secret), or None when no webhook is configured. A connection without a password
        is refused: its deliveries would be signed with an empty key, which anyone can forge."""
        try:
            conn = self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            return None
        if not conn.password:
            raise ValueError(f"connection {self.conn_id} has no password: set the webhook's signing secret there")
        if "://" in (conn.host or ""):
            return conn.host, conn.password
        # The URI form (AIRFLOW_CONN_HLS_WEBHOOK=https://:secret@app.example/hooks/hls) keeps the
        # scheme in the connection type and the path in the schema.
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
        port = f":{conn.port}" if conn.port else ""
        return f"{scheme}://{conn.host}{port}/{(conn.schema or '').lstrip('/')}", conn.password
