"""Media playlist reading, bandwidth measurement and master playlist writing.

ffmpeg's own master playlist lacks AVERAGE-BANDWIDTH, FRAME-RATE, the master-level
EXT-X-INDEPENDENT-SEGMENTS and (for copied streams) CODECS, all of which Apple's HLS authoring rules
ask for, so the master is written here from measured segment sizes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from hls_operators.core.video_codecs import H264_CODECS

AUDIO_GROUP = "audio"
SUBTITLE_GROUP = "subs"


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float


@dataclass(frozen=True)
class Variant:
    """One rendition as the master playlist declares it."""

    uri: str
    width: int
    height: int
    frame_rate: Fraction
    codecs: str
    peak_bps: int
    average_bps: int
    video_range: str | None = None  # SDR, PQ or HLG, declared when the set holds an HDR variant


@dataclass(frozen=True)
class Rendition:
    """One audio or subtitle rendition (``EXT-X-MEDIA``), shared by every variant of its group."""

    kind: str  # "AUDIO" or "SUBTITLES"
    uri: str
    name: str
    language: str | None  # BCP 47
    default: bool
    forced: bool = False
    channels: int | None = None

    @property
    def group(self) -> str:
        return AUDIO_GROUP if self.kind == "AUDIO" else SUBTITLE_GROUP


@dataclass(frozen=True)
class IFrameVariant:
    """One rendition's I-frame playlist, for trick play (no FRAME-RATE, video codec only)."""

    uri: str
    width: int
    height: int
    codecs: str
    peak_bps: int
    average_bps: int
    video_range: str | None = None


def parse_media_playlist(text: str) -> list[Segment]:
    """Segments of a VOD media playlist, in order (tags other than EXTINF are ignored)."""
    if not text.startswith("#EXTM3U"):
        raise ValueError("not an M3U8 playlist")
    segments, duration = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if duration is None:
                raise ValueError(f"segment {line!r} has no EXTINF")
            segments.append(Segment(line, duration))
            duration = None
    return segments


def parse_map_uri(text: str) -> str | None:
    """The Media Initialization Section a media playlist names (``EXT-X-MAP``; fMP4), if any."""
    found = re.search(r'^#EXT-X-MAP:.*?URI="([^"]+)"', text, flags=re.MULTILINE)
    return found.group(1) if found else None


def parse_master_playlist(text: str) -> list[str]:
    """The variant URIs a master playlist names, in order."""
    if not text.startswith("#EXTM3U"):
        raise ValueError("not an M3U8 playlist")
    return [entry.uri for entry in master_entries(text) if entry.kind == "VARIANT" and entry.uri]


def parse_rendition_uris(master_text: str) -> list[str]:
    """The audio and subtitle rendition URIs a master playlist names (``URI`` of each EXT-X-MEDIA)."""
    return [entry.uri for entry in master_entries(master_text) if entry.kind == "MEDIA" and entry.uri]


def parse_iframe_uris(master_text: str) -> list[str]:
    """The I-frame playlist URIs a master playlist names (``URI`` of each EXT-X-I-FRAME-STREAM-INF)."""
    return [entry.uri for entry in master_entries(master_text) if entry.iframes and entry.uri]


def parse_target_duration(text: str) -> int:
    """A media or I-frame playlist's ``EXT-X-TARGETDURATION``."""
    found = re.search(r"^#EXT-X-TARGETDURATION:(\d+)\s*$", text, flags=re.MULTILINE)
    if found is None:
        raise ValueError("the playlist has no EXT-X-TARGETDURATION")
    return int(found.group(1))


def peak_bit_rate(pieces: list[tuple[int, float]], target_duration: float) -> int:
    """RFC 8216 4.3.4.2's peak segment bit rate of ``pieces`` ((bytes, seconds) in playlist order):
    the largest bit rate of any contiguous run of them lasting 0.5 to 1.5 times the target
    duration, so that one short tail segment alone is no peak. A playlist shorter than half its
    target duration has no such run: its whole length counts."""
    best = 0.0
    for start in range(len(pieces)):
        size, seconds = 0, 0.0
        for length, duration in pieces[start:]:
            size, seconds = size + length, seconds + duration
            if seconds > 1.5 * target_duration:
                break
            if seconds >= 0.5 * target_duration:
                best = max(best, size * 8 / seconds)
    if best == 0.0:
        best = average_bit_rate(pieces)
    return math.ceil(best)


def average_bit_rate(pieces: list[tuple[int, float]]) -> int:
    total_seconds = sum(duration for _, duration in pieces)
    if total_seconds <= 0:
        raise ValueError("playlist has no duration")
    return math.ceil(sum(length for length, _ in pieces) * 8 / total_seconds)


def measure_bandwidth(segments: list[Segment], sizes: dict[str, int], target_duration: float) -> tuple[int, int]:
    """(peak, average) bits per second of a media playlist: BANDWIDTH and AVERAGE-BANDWIDTH as
    RFC 8216 defines them."""
    pieces = [(sizes[s.uri], s.duration) for s in segments]
    return peak_bit_rate(pieces, target_duration), average_bit_rate(pieces)


def start_order(variants: list[Variant]) -> list[Variant]:
    """A middle H.264 rung first (the lower middle of an even count), then the rest from the highest
    down: players that know nothing of the network yet (hls.js, older AVPlayer) start on the first
    variant listed, starting on the top rung stalls every playback on a slow link, and a player
    without HEVC must be able to start on it."""
    ascending = sorted(variants, key=lambda v: v.peak_bps)
    if not ascending:
        return []
    h264 = [v for v in ascending if v.codecs.startswith(H264_CODECS)] or ascending
    first = h264[(len(h264) - 1) // 2]
    return [first, *(v for v in reversed(ascending) if v is not first)]


def quoted_string(text: str) -> str:
    """A value for a quoted-string attribute: RFC 8216 allows no double quote, CR or LF in one, and
    players split lines on more than those (U+2028, U+0085, ...), so that a studio's track title
    could add a line of its own to the master. Printable characters only; any space or line break
    becomes a plain space."""
    return "".join(
        "'" if ch == '"' else " " if ch.isspace() else ch for ch in text if ch.isprintable() or ch.isspace()
    ).strip()


def write_master(
    variants: list[Variant],
    iframe_variants: list[IFrameVariant] = (),
    renditions: list[Rendition] = (),
    *,
    closed_captions: bool = False,
) -> str:
    """A master playlist: the audio and subtitle renditions, then the variants (a middle rung first;
    each in the groups there are, its BANDWIDTH already the sum with its renditions'), then the
    I-frame playlists from the highest down. Without captions in the video, each variant says
    ``CLOSED-CAPTIONS=NONE``, so that players do not look for any. A variant's ``VIDEO-RANGE`` lets
    a player without HDR keep to the SDR ones."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in renditions:
        attributes = [f"TYPE={r.kind}", f'GROUP-ID="{r.group}"']
        if r.language:
            attributes.append(f'LANGUAGE="{r.language}"')
        attributes += [f'NAME="{quoted_string(r.name)}"', f"DEFAULT={'YES' if r.default else 'NO'}", "AUTOSELECT=YES"]
        if r.kind == "SUBTITLES":
            attributes.append(f"FORCED={'YES' if r.forced else 'NO'}")
        if r.channels:
            attributes.append(f'CHANNELS="{r.channels}"')
        lines.append("#EXT-X-MEDIA:" + ",".join([*attributes, f'URI="{r.uri}"']))
    groups = {r.kind: r.group for r in renditions}
    for v in start_order(variants):
        attributes = [
            f"BANDWIDTH={v.peak_bps}",
            f"AVERAGE-BANDWIDTH={v.average_bps}",
            f"RESOLUTION={v.width}x{v.height}",
            f"FRAME-RATE={float(v.frame_rate):.3f}",
            f'CODECS="{v.codecs}"',
            *([f"VIDEO-RANGE={v.video_range}"] if v.video_range else []),
        ]
        if "AUDIO" in groups:
            attributes.append(f'AUDIO="{groups["AUDIO"]}"')
        if "SUBTITLES" in groups:
            attributes.append(f'SUBTITLES="{groups["SUBTITLES"]}"')
        if not closed_captions:
            attributes.append("CLOSED-CAPTIONS=NONE")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), v.uri]
    for v in sorted(iframe_variants, key=lambda v: v.peak_bps, reverse=True):
        attributes = [
            f"BANDWIDTH={v.peak_bps}",
            f"AVERAGE-BANDWIDTH={v.average_bps}",
            f"RESOLUTION={v.width}x{v.height}",
            f'CODECS="{v.codecs}"',
            *([f"VIDEO-RANGE={v.video_range}"] if v.video_range else []),
            f'URI="{v.uri}"',
        ]
        lines.append("#EXT-X-I-FRAME-STREAM-INF:" + ",".join(attributes))
    return "\n".join(lines) + "\n"


ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(frozen=True)
class StreamInf:
    """One ``EXT-X-STREAM-INF``, ``EXT-X-I-FRAME-STREAM-INF`` or ``EXT-X-MEDIA`` of a master playlist."""

    uri: str
    attributes: dict[str, str]
    kind: str  # "VARIANT", "IFRAMES" or "MEDIA" (an audio or subtitle rendition)

    @property
    def iframes(self) -> bool:
        return self.kind == "IFRAMES"

    def number(self, name: str) -> int | None:
        value = self.attributes.get(name)
        return int(value) if value and value.isdigit() else None


def parse_stream_infs(master_text: str) -> list[StreamInf]:
    """Every variant and I-frame stream of a master playlist, in order, with its attributes."""
    return [s for s in master_entries(master_text) if s.kind in ("VARIANT", "IFRAMES")]


def parse_renditions(master_text: str) -> list[StreamInf]:
    """Every audio and subtitle rendition (``EXT-X-MEDIA``) of a master playlist."""
    return [s for s in master_entries(master_text) if s.kind == "MEDIA"]


def master_entries(master_text: str) -> list[StreamInf]:
    """Every variant, I-frame stream and rendition of a master playlist, in order: the one reader of
    masters that the URI lists below, the verification and the conformance checks share."""
    lines = [line.strip() for line in master_text.splitlines()]
    found = []
    for index, line in enumerate(lines):
        tag, _, attributes = line.partition(":")
        kind = {"#EXT-X-STREAM-INF": "VARIANT", "#EXT-X-I-FRAME-STREAM-INF": "IFRAMES", "#EXT-X-MEDIA": "MEDIA"}.get(
            tag
        )
        if kind is None:
            continue
        values = {name: value.strip('"') for name, value in ATTRIBUTE.findall(attributes)}
        uri = lines[index + 1] if kind == "VARIANT" and index + 1 < len(lines) else values.get("URI", "")
        found.append(StreamInf(uri, values, kind))
    return found
