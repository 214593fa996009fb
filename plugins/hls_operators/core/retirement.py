"""Retiring originals: once a movie has played from HLS for a grace period, its MP4 is archived
(the copy checked by size and SHA-256) and only then deleted; a rollback restores it first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retirement:
    """One movie's retirement, as the ledger (``hls_retirements``) keeps it."""

    movie_id: int
    status: str  # dry_run, retired, refused, restored
    source_url: str
    archive: str | None = None  # bucket/key of the archived copy
    bytes: int | None = None
    sha256: str | None = None
    reason: str | None = None  # why it was refused


def other_references(
    movie_id: int, original: tuple[str, str], references: list[tuple[int, str, tuple[str, str] | None]]
) -> list[str]:
    """What else in the catalog resolves to ``movie_id``'s original (bucket, key): every reference
    ``(movie, what, where it resolves)`` to it but the movie's own rollback point."""
    return [
        f"movie {movie}'s {what}"
        for movie, what, location in references
        if location == original and not (movie == movie_id and what == "rollback point")
    ]


def archive_location(archive_bucket: str, archive_prefix: str, source: tuple[str, str]) -> tuple[str, str]:
    """Where an original goes: its bucket and key kept under the archive prefix, so that every
    original has its own place and a rollback knows where it came from."""
    bucket, key = source
    return archive_bucket, f"{archive_prefix.strip('/')}/{bucket}/{key}"
