"""The bundled storage's access rules (deploy/storage/s3_config.py) on a real SeaweedFS: players
read the published sets anonymously, and nothing else of the bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devenv import services

pytestmark = pytest.mark.services  # a SeaweedFS of its own

REPO = Path(__file__).resolve().parents[2]
S3_CONFIG = REPO / "deploy" / "storage" / "s3_config.py"


def write_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(S3_CONFIG)], env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True
    )


def anonymous_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_only_the_published_prefix_is_public(tmp_path):
    env = {"S3_ACCESS_KEY": services.ACCESS_KEY, "S3_SECRET_KEY": services.SECRET_KEY, "HLS_BUCKET": "media"}
    written = write_config(env)
    assert written.returncode == 0, written.stderr
    server = services.start_seaweedfs(tmp_path / "storage", config=json.loads(written.stdout))
    try:
        client = server.client()
        services.create_bucket(client, "media")
        keys = {
            "hls/movies/1/20260101T000000Z-abcdef/master.m3u8": 200,  # what players and the CDN fetch
            "hls-work/1/v1/chunk_000.tar": 403,  # hand-offs between tasks
            "archive/originals/media/uploads/1/film.mp4": 403,  # retired originals
            "uploads/1/film.mp4": 403,  # originals
            "hls/movies-private/x": 403,  # a prefix that only starts like the published one
        }
        for key in keys:
            client.put_object(Bucket="media", Key=key, Body=b"x")
        assert {key: anonymous_status(f"{server.endpoint}/media/{key}") for key in keys} == keys
        assert anonymous_status(f"{server.endpoint}/media/?list-type=2") == 403  # no listing either
    finally:
        server.stop()


def test_the_storage_refuses_to_start_with_the_example_keys():
    refused = write_config(
        {"S3_ACCESS_KEY": "change-me-access-key", "S3_SECRET_KEY": "real-secret", "HLS_BUCKET": "media"}
    )
    assert refused.returncode == 1 and "S3_ACCESS_KEY" in refused.stderr and refused.stdout == ""
    assert "real-secret" not in refused.stderr
