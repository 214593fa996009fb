"""The rules an uploaded HLS set must pass before the catalog may point at it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from hls_operators.errors import ErrorClass, MigrationError
from hls_operators.playlists import parse_master_playlist, parse_media_playlist

DURATION_TOLERANCE_SECONDS = 0.5


@dataclass(frozen=True)
class VerifiedSet:
    objects: int
    bytes: int
    segments: int


def verify_hls_set(
    *,
    stored: dict[str, int],
    expected: dict[str, int],
    master_text: str,
    media_texts: dict[str, str],
    source_duration: float,
) -> VerifiedSet:
    """Check a published set: ``stored`` and ``expected`` map relative paths to sizes in bytes,
    ``media_texts`` maps each variant URI of the master to its playlist text."""
    problems = []
    for path, size in expected.items():
        if path not in stored:
            problems.append(f"{path} is missing")
        elif stored[path] != size:
            problems.append(f"{path} has {stored[path]} bytes, expected {size}")
    variants = parse_master_playlist(master_text)
    if not variants:
        problems.append("the master playlist names no variant")
    segment_count = 0
    for uri in variants:
        if uri not in media_texts:
            problems.append(f"variant playlist {uri} is missing")
            continue
        folder = PurePosixPath(uri).parent
        segments = parse_media_playlist(media_texts[uri])
        segment_count += len(segments)
        for segment in segments:
            path = (folder / segment.uri).as_posix()
            if stored.get(path, 0) <= 0:
                problems.append(f"segment {path} is missing or empty")
        total = sum(s.duration for s in segments)
        if abs(total - source_duration) > DURATION_TOLERANCE_SECONDS:
            problems.append(f"{uri} lasts {total:.3f} s, the source {source_duration:.3f} s")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise MigrationError(ErrorClass.VERIFICATION_FAILED, shown)
    return VerifiedSet(objects=len(expected), bytes=sum(expected.values()), segments=segment_count)
