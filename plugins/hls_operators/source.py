"""Fetching a movie's source MP4 to local disk, from object storage or over HTTP(S)."""

from __future__ import annotations

import errno
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests

from hls_operators.errors import ErrorClass, MigrationError
from hls_operators.storage import ObjectStore

CHUNK_BYTES = 1024 * 1024


def storage_location(url: str, *, public_base_url: str, bucket: str) -> tuple[str, str] | None:
    """(bucket, key) when the URL is read through the storage connection, else None.

    ``s3://bucket/key`` names its bucket; a URL under the public base is a key of the HLS bucket.
    """
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return parts.netloc, unquote(parts.path.lstrip("/"))
    base = public_base_url.rstrip("/") + "/"
    if url.startswith(base):
        return bucket, unquote(urlsplit(url[len(base) :]).path)
    return None


def fetch_source(
    url: str, target: Path, *, store: ObjectStore, public_base_url: str, max_bytes: int, timeout: float
) -> Path:
    """Download ``url`` to ``target``; classified errors for missing, oversized or unreachable sources."""
    try:
        location = storage_location(url, public_base_url=public_base_url, bucket=store.bucket)
        if location is not None:
            bucket, key = location
            size = store.object_size(key, bucket=bucket)
            if size is None:
                raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{url} does not exist in storage")
            _check_size(size, max_bytes, url)
            store.download_file(key, target, bucket=bucket)
        elif urlsplit(url).scheme in ("http", "https"):
            _download_http(url, target, max_bytes=max_bytes, timeout=timeout)
        else:
            raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"unsupported URL scheme in {url!r}")
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise MigrationError(ErrorClass.DISK_FULL, f"no space left for the source in {target.parent}") from error
        raise
    return target


def _check_size(size: int, max_bytes: int, url: str) -> None:
    if size > max_bytes:
        raise MigrationError(ErrorClass.UNSUPPORTED, f"{url} is {size} bytes, over the limit of {max_bytes}")


def _download_http(url: str, target: Path, *, max_bytes: int, timeout: float) -> None:
    try:
        with requests.get(url, stream=True, timeout=(timeout, timeout)) as response:
            if response.status_code in (404, 410, 401, 403):
                raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{url} answered HTTP {response.status_code}")
            if response.status_code >= 400:
                # 5xx and the like: the server may recover, so this one is worth a retry.
                raise MigrationError(
                    ErrorClass.SOURCE_UNREACHABLE, f"{url} answered HTTP {response.status_code}", retryable=True
                )
            declared = int(response.headers.get("Content-Length") or 0)
            _check_size(declared, max_bytes, url)
            received = 0
            with target.open("wb") as out:
                for chunk in response.iter_content(CHUNK_BYTES):
                    received += len(chunk)
                    _check_size(received, max_bytes, url)
                    out.write(chunk)
    except requests.RequestException as error:
        raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{url}: {error}", retryable=True) from error
