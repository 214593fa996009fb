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

AUDIO_AAC_LC = "mp4a.40.2"
# First two bytes of avc1.PPCCLL: profile_idc and constraint flags, per H.264 profile name.
AVC_PROFILE_PREFIX = {
    "Constrained Baseline": "42E0",
    "Baseline": "4200",
    "Main": "4D40",
    "High": "6400",
}


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


@dataclass(frozen=True)
class IFrameVariant:
    """One rendition's I-frame playlist, for trick play (no FRAME-RATE, video codec only)."""

    uri: str
    width: int
    height: int
    codecs: str
    peak_bps: int
    average_bps: int


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


def parse_master_playlist(text: str) -> list[str]:
    """The variant URIs a master playlist names, in order."""
    if not text.startswith("#EXTM3U"):
        raise ValueError("not an M3U8 playlist")
    lines = [line.strip() for line in text.splitlines()]
    return [lines[i + 1] for i, line in enumerate(lines[:-1]) if line.startswith("#EXT-X-STREAM-INF:")]


def parse_iframe_uris(master_text: str) -> list[str]:
    """The I-frame playlist URIs a master playlist names (``URI`` of each EXT-X-I-FRAME-STREAM-INF)."""
    return re.findall(r'^#EXT-X-I-FRAME-STREAM-INF:.*?URI="([^"]+)"', master_text, flags=re.MULTILINE)


def measure_bandwidth(segments: list[Segment], sizes: dict[str, int]) -> tuple[int, int]:
    """(peak, average) bits per second: peak over segments, as BANDWIDTH is defined by RFC 8216."""
    total_bytes = sum(sizes[s.uri] for s in segments)
    total_seconds = sum(s.duration for s in segments)
    if total_seconds <= 0:
        raise ValueError("playlist has no duration")
    peak = max(sizes[s.uri] * 8 / s.duration for s in segments if s.duration > 0)
    return math.ceil(peak), math.ceil(total_bytes * 8 / total_seconds)


def avc_codec_string(profile: str, level: int) -> str:
    """RFC 6381 codec string for H.264, e.g. ("High", 40) -> "avc1.640028"."""
    try:
        prefix = AVC_PROFILE_PREFIX[profile]
    except KeyError:
        raise ValueError(f"unexpected H.264 profile {profile!r}") from None
    return f"avc1.{prefix}{level:02X}"


def write_master(variants: list[Variant], iframe_variants: list[IFrameVariant] = ()) -> str:
    """A master playlist, highest bandwidth first, then the I-frame playlists."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in sorted(variants, key=lambda v: v.peak_bps, reverse=True):
        attributes = [
            f"BANDWIDTH={v.peak_bps}",
            f"AVERAGE-BANDWIDTH={v.average_bps}",
            f"RESOLUTION={v.width}x{v.height}",
            f"FRAME-RATE={float(v.frame_rate):.3f}",
            f'CODECS="{v.codecs}"',
        ]
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), v.uri]
    for v in sorted(iframe_variants, key=lambda v: v.peak_bps, reverse=True):
        attributes = [
            f"BANDWIDTH={v.peak_bps}",
            f"AVERAGE-BANDWIDTH={v.average_bps}",
            f"RESOLUTION={v.width}x{v.height}",
            f'CODECS="{v.codecs}"',
            f'URI="{v.uri}"',
        ]
        lines.append("#EXT-X-I-FRAME-STREAM-INF:" + ",".join(attributes))
    return "\n".join(lines) + "\n"
