"""Where a conversion's objects go in the bucket, with which headers, and in which order.

Every conversion gets its own versioned folder ``{output_prefix}/{movie_id}/{version}/``, so a
re-conversion never overwrites objects that a published URL points to. Keys derive from the numeric
movie id and a generated version only: titles and slugs never reach a key.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import PurePosixPath

from hls_operators.core.layout import MASTER_PLAYLIST

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt",
    ".json": "application/json",
}
# Segments and thumbnails never change under their versioned key: cache them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# Playlists stay short-lived so that a fix to a published set reaches players quickly.
SHORT_LIVED = "public, max-age=60"


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique folder name for one conversion, e.g. ``20261123T020000Z-3f9a1c``."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def output_prefix(root: str, movie_id: int, version: str) -> str:
    if not isinstance(movie_id, int) or movie_id < 0:
        raise ValueError(f"movie id must be a non-negative integer, not {movie_id!r}")
    if not version.replace("-", "").isalnum():
        raise ValueError(f"invalid version {version!r}")
    return f"{root.strip('/')}/{movie_id}/{version}"


def work_key(work_root: str, movie_id: int, version: str, name: str) -> str:
    """Key of a hand-off object between tasks (never published)."""
    return f"{output_prefix(work_root, movie_id, version)}/{name}"


def object_headers(relative_path: str) -> dict[str, str]:
    """S3 ``ExtraArgs`` for one file: Content-Type by extension and Cache-Control by role."""
    suffix = PurePosixPath(relative_path).suffix.lower()
    try:
        content_type = CONTENT_TYPES[suffix]
    except KeyError:
        raise ValueError(f"no content type known for {relative_path!r}") from None
    cache_control = SHORT_LIVED if suffix == ".m3u8" else IMMUTABLE
    return {"ContentType": content_type, "CacheControl": cache_control}


def publish_order(relative_paths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(media and thumbnails, media playlists, master): each group may only follow the one before,
    so that no playlist is ever visible before the objects it names."""
    master = [p for p in relative_paths if p == MASTER_PLAYLIST]
    playlists = sorted(p for p in relative_paths if p.endswith(".m3u8") and p != MASTER_PLAYLIST)
    media = sorted(p for p in relative_paths if not p.endswith(".m3u8"))
    return media, playlists, master
