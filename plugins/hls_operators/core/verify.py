"""The rules an uploaded HLS set must pass before the catalog may point at it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.layout import STORYBOARD_DIR
from hls_operators.core.playlists import (
    parse_iframe_uris,
    parse_map_uri,
    parse_master_playlist,
    parse_media_playlist,
    parse_rendition_uris,
)
from hls_operators.core.trickplay import parse_iframe_playlist, parse_storyboard_vtt

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
    storyboard_text: str | None,
) -> VerifiedSet:
    """Check a published set: ``stored`` and ``expected`` map relative paths to sizes in bytes,
    ``media_texts`` maps each playlist URI the master names (variants, audio and subtitle
    renditions, I-frame playlists) to its text; ``storyboard_text`` is the storyboard's WebVTT.
    Every variant and rendition must last as long as the source."""
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
    for uri in variants + parse_rendition_uris(master_text):
        if uri not in media_texts:
            problems.append(f"playlist {uri} is missing")
            continue
        folder = PurePosixPath(uri).parent
        segments = parse_media_playlist(media_texts[uri])
        segment_count += len(segments)
        for path in _map_paths(uri, media_texts[uri]) + [(folder / segment.uri).as_posix() for segment in segments]:
            if stored.get(path, 0) <= 0:
                problems.append(f"segment {path} is missing or empty")
        total = sum(s.duration for s in segments)
        if abs(total - source_duration) > DURATION_TOLERANCE_SECONDS:
            problems.append(f"{uri} lasts {total:.3f} s, the source {source_duration:.3f} s")
    iframe_uris = parse_iframe_uris(master_text)
    if len(iframe_uris) != len(variants):
        problems.append(f"the master names {len(iframe_uris)} I-frame playlists for {len(variants)} variants")
    for uri in iframe_uris:
        problems += _iframe_problems(uri, media_texts.get(uri), stored, source_duration)
    problems += _storyboard_problems(storyboard_text, stored, source_duration)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise MigrationError(ErrorClass.VERIFICATION_FAILED, shown)
    return VerifiedSet(objects=len(expected), bytes=sum(expected.values()), segments=segment_count)


def _iframe_problems(uri: str, text: str | None, stored: dict[str, int], source_duration: float) -> list[str]:
    """Every keyframe's byte range lies inside a stored segment; together they span the movie."""
    if text is None:
        return [f"I-frame playlist {uri} is missing"]
    folder = PurePosixPath(uri).parent
    frames = parse_iframe_playlist(text)
    problems = [
        f"init section {path} is missing or empty" for path in _map_paths(uri, text) if stored.get(path, 0) <= 0
    ]
    problems += [
        f"{uri}: {frame.length}@{frame.offset} lies outside {frame.uri}"
        for frame in frames
        if frame.length <= 0 or frame.offset + frame.length > stored.get((folder / frame.uri).as_posix(), 0)
    ]
    total = sum(frame.duration for frame in frames)
    if abs(total - source_duration) > DURATION_TOLERANCE_SECONDS:
        problems.append(f"{uri} lasts {total:.3f} s, the source {source_duration:.3f} s")
    return problems


def _map_paths(uri: str, text: str) -> list[str]:
    """The stored path of the Media Initialization Section the playlist ``uri`` names, if any (fMP4)."""
    init = parse_map_uri(text)
    return [(PurePosixPath(uri).parent / init).as_posix()] if init else []


def _storyboard_problems(text: str | None, stored: dict[str, int], source_duration: float) -> list[str]:
    """Cues follow each other from 0 s to the end of the movie, each on a stored sheet."""
    if text is None:
        return ["the storyboard is missing"]
    cues = parse_storyboard_vtt(text)
    if not cues:
        return ["the storyboard has no cue"]
    problems = [
        f"storyboard sheet {cue.sheet} is missing" for cue in cues if f"{STORYBOARD_DIR}/{cue.sheet}" not in stored
    ]
    if cues[0].start != 0 or any(b.start != a.end for a, b in zip(cues, cues[1:])):
        problems.append("storyboard cues leave gaps or overlap")
    if abs(cues[-1].end - source_duration) > DURATION_TOLERANCE_SECONDS:
        problems.append(f"the storyboard ends at {cues[-1].end:.3f} s, the source at {source_duration:.3f} s")
    return sorted(set(problems))
