"""Object storage operations over a boto3 S3 client (R2, Spaces, S3, MinIO, SeaweedFS).

``ObjectStore`` holds every call to the storage service and turns its failures into classified
errors; ``hooks.StorageHook`` builds it from the ``hls_storage`` Airflow connection.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from hls_operators.core.errors import ErrorClass, MigrationError

log = logging.getLogger(__name__)

MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}

COPY_BLOCK_BYTES = 8 * 1024 * 1024


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in MISSING_CODES


def storage_error(action: str, error: Exception) -> MigrationError:
    return MigrationError(ErrorClass.STORAGE_UNAVAILABLE, f"{action}: {error}")


class ObjectStore:
    """One bucket's worth of operations; every method raises ``MigrationError`` on failure."""

    def __init__(self, client, bucket: str):
        self.client = client
        self.bucket = bucket

    @property
    def endpoint(self) -> str:
        """The S3 endpoint this store talks to (``endpoint_url`` of the connection, or AWS's)."""
        return self.client.meta.endpoint_url

    def upload_file(self, path: Path, key: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs=headers or {})
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"upload of {key}", error) from error

    def upload_stream(self, key: str, write: Callable[[BinaryIO], None]) -> None:
        """Upload what ``write(stream)`` writes, while it writes it: nothing is staged on disk. The
        object is stored only if ``write`` returns; if it raises, so does this, and nothing is stored."""
        read_end, write_end = os.pipe()
        failures: list[BaseException] = []

        def produce() -> None:
            try:
                with open(write_end, "wb") as stream:
                    try:
                        write(stream)
                    except BaseException as error:
                        failures.append(error)  # before the close, so the reader sees it at the end
            except BrokenPipeError:  # the upload failed and stopped reading
                pass

        producer = threading.Thread(target=produce, name=f"upload-stream-{key}", daemon=True)
        with open(read_end, "rb") as stream:
            producer.start()
            try:
                self.client.upload_fileobj(_CompleteOnly(stream, failures), self.bucket, key)
            except (BotoCoreError, ClientError) as error:
                raise storage_error(f"upload of {key}", error) from error
            finally:
                stream.close()  # a producer still writing gets a broken pipe rather than waiting forever
                producer.join()

    def upload_many(self, files: Iterable[tuple[Path, str, dict[str, str]]], concurrency: int) -> None:
        """Upload ``(path, key, headers)`` items in parallel; all must succeed."""
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for future in [pool.submit(self.upload_file, *item) for item in files]:
                future.result()

    def download_file(self, key: str, path: Path, *, bucket: str | None = None) -> None:
        try:
            self.client.download_file(bucket or self.bucket, key, str(path))
        except ClientError as error:
            if is_missing(error):
                raise MigrationError(
                    ErrorClass.SOURCE_UNREACHABLE, f"s3://{bucket or self.bucket}/{key} does not exist"
                ) from error
            raise storage_error(f"download of {key}", error) from error
        except BotoCoreError as error:
            raise storage_error(f"download of {key}", error) from error

    def object_size(self, key: str, *, bucket: str | None = None) -> int | None:
        """Size in bytes, or None when the object does not exist."""
        head = self._head(key, bucket or self.bucket)
        return None if head is None else head["ContentLength"]

    def etag(self, key: str) -> str | None:
        """The object's ETag (changes whenever it is written again), or None when it does not exist."""
        head = self._head(key, self.bucket)
        return None if head is None else head["ETag"]

    def _head(self, key: str, bucket: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise storage_error(f"head of {key}", error) from error
        except BotoCoreError as error:
            raise storage_error(f"head of {key}", error) from error

    def read_text(self, key: str) -> str:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"read of {key}", error) from error

    def put_text(self, key: str, text: str, headers: dict[str, str]) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), **headers)
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"write of {key}", error) from error

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """``{key relative to prefix: size}`` of every object under ``prefix/``."""
        prefix = prefix.rstrip("/") + "/"
        sizes: dict[str, int] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    sizes[item["Key"][len(prefix) :]] = item["Size"]
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"listing of {prefix}", error) from error
        return sizes

    def ensure_bucket(self) -> None:
        try:
            if self.bucket not in {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}:
                self.client.create_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"creation of bucket {self.bucket}", error) from error

    def allow_origins(self, origins: list[str]) -> None:
        """CORS for players on other origins: hls.js fetches playlists and segments with XHR."""
        rule = {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 3600,
        }
        try:
            self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]})
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"CORS of bucket {self.bucket}", error) from error

    def copy(self, source: tuple[str, str], target: tuple[str, str], *, storage_class: str = "") -> None:
        """Copy (bucket, key) to (bucket, key) inside the storage (multipart for large objects)."""
        extra = {"StorageClass": storage_class} if storage_class else None
        try:
            self.client.copy({"Bucket": source[0], "Key": source[1]}, target[0], target[1], ExtraArgs=extra)
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"copy of {source[0]}/{source[1]}", error) from error

    def sha256(self, key: str, *, bucket: str | None = None) -> str:
        """The object's SHA-256, read through once: what proves a copy equal to its original."""
        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=bucket or self.bucket, Key=key)["Body"]
            for block in iter(lambda: body.read(COPY_BLOCK_BYTES), b""):
                digest.update(block)
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"read of {key}", error) from error
        return digest.hexdigest()

    def delete(self, key: str, *, bucket: str | None = None) -> None:
        try:
            self.client.delete_object(Bucket=bucket or self.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"delete of {key}", error) from error

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix/``; returns how many."""
        keys = [f"{prefix.rstrip('/')}/{name}" for name in self.list_sizes(prefix)]
        try:
            for start in range(0, len(keys), 1000):
                batch = [{"Key": key} for key in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        except (BotoCoreError, ClientError) as error:
            raise storage_error(f"delete of {prefix}", error) from error
        return len(keys)


class _CompleteOnly:
    """A pipe's reading end that raises, instead of ending, when its writer failed: the upload is
    abandoned rather than completed with what came through before the failure."""

    def __init__(self, stream: BinaryIO, failures: list[BaseException]) -> None:
        self.stream, self.failures = stream, failures

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if (size < 0 or len(data) < size) and self.failures:  # the end: the writer is done
            raise self.failures[0]
        return data


def read_error(error: BaseException) -> MigrationError | None:
    """Storage unreachable or answering with an error: retried."""
    if isinstance(error, (BotoCoreError, ClientError)):
        return MigrationError(ErrorClass.STORAGE_UNAVAILABLE, str(error))
    return None
