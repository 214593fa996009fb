"""Seek previews and trick play: I-frame playlists and storyboards, as pure functions.

An I-frame playlist (RFC 8216 4.3.3.6, ``EXT-X-I-FRAMES-ONLY``) points with byte ranges at the
keyframes inside a rung's own segments, so scrubbing and fast-forward cost no extra media: in
MPEG-TS every keyframe; in fMP4, where a keyframe can only be read with the movie fragment box
(``moof``) that describes it and ffmpeg writes one fragment per segment, the first keyframe of each
segment, its range starting at that box. A
storyboard is a set of sprite sheets of small tiles plus a WebVTT file whose cues say which tile
(``sheet.jpg#xywh=x,y,w,h``) to show for which stretch of the movie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hls_operators.core.layout import STORYBOARD_SHEET_PATTERN
from hls_operators.core.playlists import average_bit_rate, peak_bit_rate

STORYBOARD_TILE_PATTERN = "tile_%05d.jpg"
STORYBOARD_COLUMNS = 10
STORYBOARD_ROWS = 10


@dataclass(frozen=True)
class VideoPacket:
    """One video packet as ffprobe reports it for a rung's segments read back to back."""

    pts: float
    pos: int  # byte offset of the packet's first byte in the concatenated segments
    key: bool


@dataclass(frozen=True)
class IFrame:
    """One keyframe: where its bytes lie in a segment and how long it stands for."""

    uri: str
    offset: int
    length: int
    duration: float


def locate_iframes(
    packets: list[VideoPacket],
    segments: list[tuple[str, int]],
    total_duration: float,
    fragment_starts: dict[str, int] | None = None,
) -> list[IFrame]:
    """The keyframes of a rung, each as a byte range inside its segment.

    ``segments`` are (uri, size) in playlist order, as they were concatenated for ffprobe. A
    keyframe's range runs from its first byte to the next video packet (or the segment's end), so
    in MPEG-TS it may hold interleaved audio packets, which players skip. With ``fragment_starts``
    (fMP4: each segment's ``moof`` offset), only each segment's first keyframe is listed, its range
    starting at the fragment's ``moof``. Each keyframe stands until the next one listed; the last
    until the end of the movie.
    """
    starts, offset = [], 0
    for uri, size in segments:
        starts.append((offset, offset + size, uri))
        offset += size
    if not packets:
        return []
    by_pos = sorted(packets, key=lambda p: p.pos)
    origin = min(p.pts for p in packets)
    located, listed = [], set()
    for i, packet in enumerate(by_pos):
        if packet.key:
            segment_start, segment_end, uri = next(s for s in starts if s[0] <= packet.pos < s[1])
            if fragment_starts is None or uri not in listed:
                listed.add(uri)
                following = by_pos[i + 1].pos if i + 1 < len(by_pos) else segment_end
                first = packet.pos - segment_start if fragment_starts is None else fragment_starts[uri]
                located.append((packet.pts - origin, first, uri, min(following, segment_end) - segment_start))
    iframes = []
    for k, (at, first, uri, end) in enumerate(located):
        until = located[k + 1][0] if k + 1 < len(located) else total_duration
        iframes.append(IFrame(uri, first, end - first, round(until - at, 6)))
    return iframes


def moof_offset(head: bytes) -> int:
    """Where the first movie fragment box starts in an fMP4 segment, from its first bytes (the
    top-level boxes before it: ``styp``, ``sidx``)."""
    offset = 0
    while offset + 8 <= len(head):
        size, kind = int.from_bytes(head[offset : offset + 4], "big"), head[offset + 4 : offset + 8]
        if kind == b"moof":
            return offset
        if size == 1 and offset + 16 <= len(head):  # a 64-bit size follows the type
            size = int.from_bytes(head[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        offset += size
    raise ValueError("no moof box at the start of the segment")


def write_iframe_playlist(iframes: list[IFrame], map_uri: str | None = None) -> str:
    """A VOD I-frame playlist; version 4 for EXT-X-BYTERANGE and EXT-X-I-FRAMES-ONLY, 5 with the
    fMP4 segments' Media Initialization Section (``EXT-X-MAP``)."""
    target = max(1, math.ceil(max(f.duration for f in iframes)))
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{5 if map_uri else 4}",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-I-FRAMES-ONLY",
    ]
    if map_uri:
        lines.append(f'#EXT-X-MAP:URI="{map_uri}"')
    for frame in iframes:
        lines += [f"#EXTINF:{frame.duration:.6f},", f"#EXT-X-BYTERANGE:{frame.length}@{frame.offset}", frame.uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def parse_iframe_playlist(text: str) -> list[IFrame]:
    """The entries of an I-frame playlist (every entry must carry an explicit offset)."""
    if not text.startswith("#EXTM3U") or "#EXT-X-I-FRAMES-ONLY" not in text:
        raise ValueError("not an I-frame playlist")
    frames, duration, byterange = [], None, None
    for line in (line.strip() for line in text.splitlines()):
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            length, _, offset = line[len("#EXT-X-BYTERANGE:") :].partition("@")
            byterange = (int(length), int(offset))
        elif line and not line.startswith("#"):
            if duration is None or byterange is None:
                raise ValueError(f"entry {line!r} lacks EXTINF or EXT-X-BYTERANGE")
            frames.append(IFrame(line, byterange[1], byterange[0], duration))
            duration = byterange = None
    return frames


def iframe_bandwidth(iframes: list[IFrame], target_duration: float) -> tuple[int, int]:
    """(peak, average) bits per second of an I-frame playlist, as its EXT-X-I-FRAME-STREAM-INF
    declares them: RFC 8216's peak over runs of entries, each entry's bytes over the time it stands for."""
    pieces = [(f.length, f.duration) for f in iframes]
    return peak_bit_rate(pieces, target_duration), average_bit_rate(pieces)


@dataclass(frozen=True)
class StoryboardPlan:
    """One tile every ``interval`` seconds, ``tile_width`` x ``tile_height`` pixels, on sheets of
    ``STORYBOARD_COLUMNS`` x ``STORYBOARD_ROWS`` tiles."""

    interval: float
    tile_width: int
    tile_height: int

    @classmethod
    def for_source(cls, width: int, height: int, *, interval: float, tile_width: int) -> StoryboardPlan:
        """Tiles keep the source's shape, never wider than the source, with even sizes."""
        tile_width = min(tile_width, width - width % 2)
        return cls(interval, tile_width, max(2, round(height * tile_width / width / 2) * 2))

    @property
    def tiles_per_sheet(self) -> int:
        return STORYBOARD_COLUMNS * STORYBOARD_ROWS

    def sheet_grid(self, tiles_on_sheet: int) -> tuple[int, int]:
        """(columns, rows) of a sheet holding ``tiles_on_sheet`` tiles: a short last sheet is shorter."""
        columns = min(STORYBOARD_COLUMNS, tiles_on_sheet)
        return columns, math.ceil(tiles_on_sheet / columns)


@dataclass(frozen=True)
class StoryboardCue:
    start: float
    end: float
    sheet: str
    x: int
    y: int
    width: int
    height: int


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def storyboard_cues(plan: StoryboardPlan, tiles: int, duration: float) -> list[StoryboardCue]:
    """One cue per tile, back to back from 0 s to the end of the movie."""
    cues = []
    for index in range(tiles):
        sheet, place = divmod(index, plan.tiles_per_sheet)
        row, column = divmod(place, STORYBOARD_COLUMNS)
        start = index * plan.interval
        end = duration if index == tiles - 1 else min((index + 1) * plan.interval, duration)
        cues.append(
            StoryboardCue(
                start,
                end,
                STORYBOARD_SHEET_PATTERN % sheet,
                column * plan.tile_width,
                row * plan.tile_height,
                plan.tile_width,
                plan.tile_height,
            )
        )
    return cues


def write_storyboard_vtt(cues: list[StoryboardCue]) -> str:
    lines = ["WEBVTT", ""]
    for cue in cues:
        lines += [
            f"{_timestamp(cue.start)} --> {_timestamp(cue.end)}",
            f"{cue.sheet}#xywh={cue.x},{cue.y},{cue.width},{cue.height}",
            "",
        ]
    return "\n".join(lines)


def _seconds(timestamp: str) -> float:
    hours, minutes, seconds = timestamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_storyboard_vtt(text: str) -> list[StoryboardCue]:
    if not text.startswith("WEBVTT"):
        raise ValueError("not a WebVTT file")
    cues, timing = [], None
    for line in (line.strip() for line in text.splitlines()[1:]):
        if "-->" in line:
            start, _, end = line.partition("-->")
            timing = (_seconds(start.strip()), _seconds(end.strip()))
        elif line and timing is not None:
            sheet, _, fragment = line.partition("#xywh=")
            x, y, width, height = (int(v) for v in fragment.split(","))
            cues.append(StoryboardCue(*timing, sheet, x, y, width, height))
            timing = None
    return cues
