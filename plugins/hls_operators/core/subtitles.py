"""Subtitle renditions: a whole track's WebVTT cut into segments on the video's segment grid.

Each segment file carries the cues that show during it (a cue across a boundary is in both, as
RFC 8216 allows) and an ``X-TIMESTAMP-MAP`` header that ties its cue times (from the movie's start)
to the MPEG-TS timestamps of the video, so players line the text up with the picture.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.layout import SUBTITLE_SEGMENT_PATTERN

# A subtitle cue is a line or two on screen: a few hundred characters. Far more is a file made to
# multiply itself across segments.
MAX_CUE_CHARACTERS = 2000
# A real track's segments take well under a megabyte for a two-hour film.
MAX_RENDITION_BYTES = 64 * 2**20
MPEGTS_CLOCK = 90_000
TIMING = re.compile(r"^((?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{2}:\d{2}\.\d{3})(.*)$")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    settings: str  # what follows the timing on its line (position, alignment), kept as it was
    text: str


def parse_timestamp(text: str) -> float:
    parts = [float(part) for part in text.split(":")]
    return sum(value * 60**power for power, value in enumerate(reversed(parts)))


def format_timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def parse_webvtt(text: str) -> list[Cue]:
    """The cues of a WebVTT file (identifiers, NOTE and STYLE blocks dropped), in file order."""
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise ValueError("not a WebVTT file")
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        timing_line = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing_line is None:
            continue
        found = TIMING.match(lines[timing_line].strip())
        if not found:
            continue
        body = "\n".join(lines[timing_line + 1 :]).strip()
        if body:
            cues.append(
                Cue(parse_timestamp(found.group(1)), parse_timestamp(found.group(2)), found.group(3).strip(), body)
            )
    return cues


def segment_webvtt(cues: list[Cue], durations: list[float], mpegts_start: int) -> Iterator[str]:
    """One WebVTT file per segment of ``durations`` (the video's, from the movie's start), each with
    the cues that overlap it, made one at a time (a movie's worth is never held at once);
    ``mpegts_start`` is the video's first timestamp at 90 kHz."""
    header = f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts_start},LOCAL:00:00:00.000\n"
    ordered = sorted(cues, key=lambda cue: cue.start)
    upcoming, showing, start = 0, [], 0.0
    for index, duration in enumerate(durations):
        end = start + duration if index < len(durations) - 1 else math.inf
        while upcoming < len(ordered) and ordered[upcoming].start < end:
            showing.append(ordered[upcoming])
            upcoming += 1
        showing = [cue for cue in showing if cue.end > start]
        blocks = [
            f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}{' ' + cue.settings if cue.settings else ''}\n{cue.text}"
            for cue in showing
        ]
        yield "\n".join([header, *(block + "\n" for block in blocks)])
        start += duration


def check_cues(cues: list[Cue], durations: list[float], mpegts_start: int, label: str) -> int:
    """The bytes the track's segments take, once its cues are known to be within bounds: a cue is
    copied into every segment it overlaps, so one long cue across a whole movie could fill the
    disk. ``unsupported`` for a cue over ``MAX_CUE_CHARACTERS`` or segments over
    ``MAX_RENDITION_BYTES`` (counted only that far)."""
    longest = max((len(cue.text) for cue in cues), default=0)
    if longest > MAX_CUE_CHARACTERS:
        raise MigrationError(
            ErrorClass.UNSUPPORTED, f"{label} has a cue of {longest} characters, over the limit of {MAX_CUE_CHARACTERS}"
        )
    total = 0
    for text in segment_webvtt(cues, durations, mpegts_start):
        total += len(text.encode())
        if total > MAX_RENDITION_BYTES:
            raise MigrationError(
                ErrorClass.UNSUPPORTED, f"{label} would take over {MAX_RENDITION_BYTES // 2**20} MB of WebVTT segments"
            )
    return total


def subtitle_playlist(durations: list[float], target_duration: int) -> str:
    """The media playlist of a subtitle rendition cut on the video's grid."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for index, duration in enumerate(durations):
        lines += [f"#EXTINF:{duration:.6f},", SUBTITLE_SEGMENT_PATTERN % index]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"
