"""Ladder planning: which renditions a source gets, computed from its probe, never hard-coded.

Rules: rungs are named by their short side (so a portrait 1080x1920 phone video gets a "1080p" rung
of 1080x1920); a rung never exceeds the source's short side (no upscaling); the aspect ratio is kept
with even dimensions (H.264 4:2:0 needs them); a source smaller than the lowest rung gets one rung at
its own size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

MAX_FRAME_RATE = Fraction(60)
STANDARD_FRAME_RATES = [
    Fraction(r) for r in (10, 12, 15, 20, "24000/1001", 24, 25, "30000/1001", 30, 48, 50, "60000/1001", 60)
]
# Peak limit and VBV buffer relative to the target bitrate: capped VBR keeps the peak segment
# bitrate (what BANDWIDTH declares) close to the average, which players' ABR logic relies on.
MAXRATE_FACTOR = 1.1
BUFSIZE_FACTOR = 2.0


@dataclass(frozen=True)
class RungSpec:
    """One configured rung: its nominal short side in pixels and its video bitrate."""

    short_side: int
    video_kbps: int


@dataclass(frozen=True)
class Rung:
    """One planned rendition of one source."""

    name: str
    width: int
    height: int
    video_kbps: int
    source_copy: bool = False  # the source's own video stream, copied: no decode or encode

    @property
    def maxrate_kbps(self) -> int:
        return round(self.video_kbps * MAXRATE_FACTOR)

    @property
    def bufsize_kbps(self) -> int:
        return round(self.video_kbps * BUFSIZE_FACTOR)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Rung:
        return cls(
            name=data["name"], width=data["width"], height=data["height"], video_kbps=data["video_kbps"],
            source_copy=bool(data.get("source_copy", False)),
        )  # fmt: skip


def parse_ladder(text: str) -> list[RungSpec]:
    """Parse ``"1080:5000,720:2800"`` (short side : video kbps), highest first."""
    specs = []
    for item in text.split(","):
        try:
            side, kbps = (int(part) for part in item.strip().split(":"))
        except ValueError:
            raise ValueError(f"ladder entry {item!r} is not SHORT_SIDE:KBPS") from None
        if side < 16 or side % 2 or kbps <= 0:
            raise ValueError(f"ladder entry {item!r}: side must be even and >= 16, kbps positive")
        specs.append(RungSpec(side, kbps))
    if not specs:
        raise ValueError("the ladder is empty")
    return sorted(specs, key=lambda spec: spec.short_side, reverse=True)


def even(value: float) -> int:
    """Nearest even integer, at least 2."""
    return max(2, int(round(value / 2)) * 2)


def plan_ladder(width: int, height: int, specs: list[RungSpec]) -> list[Rung]:
    """Rungs for a source of ``width`` x ``height`` display pixels (rotation already applied)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid source size {width}x{height}")
    short, long = min(width, height), max(width, height)
    landscape = width >= height
    rungs = []
    for spec in specs:
        if spec.short_side > short:
            continue
        scaled_long = even(long * spec.short_side / short)
        w, h = (scaled_long, spec.short_side) if landscape else (spec.short_side, scaled_long)
        rungs.append(Rung(f"{spec.short_side}p", w, h, spec.video_kbps))
    if not rungs:
        # Below the lowest rung: keep the source size, with bitrate scaled by pixel count.
        lowest = specs[-1]
        pixel_ratio = (short * long) / (lowest.short_side * even(lowest.short_side * long / short))
        kbps = max(64, round(lowest.video_kbps * pixel_ratio))
        w, h = max(2, width - width % 2), max(2, height - height % 2)  # round down: never upscale
        rungs.append(Rung(f"{min(w, h)}p", w, h, kbps))
    return rungs


def choose_frame_rate(avg_frame_rate: Fraction | None, r_frame_rate: Fraction | None) -> Fraction:
    """The constant output rate: the source's rate, halved until it is at most 60 fps.

    ``r_frame_rate`` is the container's nominal rate and is exact for CFR sources; for VFR sources
    it can be a timebase artefact (e.g. 1000/1), so the average wins when they disagree.
    """
    candidates = [rate for rate in (r_frame_rate, avg_frame_rate) if rate and rate > 0]
    if not candidates:
        return Fraction(25)
    rate = candidates[0]
    if avg_frame_rate and avg_frame_rate > 0 and abs(rate - avg_frame_rate) / avg_frame_rate > Fraction(1, 20):
        rate = snap_frame_rate(avg_frame_rate)
    while rate > MAX_FRAME_RATE:
        rate /= 2
    return rate


def snap_frame_rate(rate: Fraction) -> Fraction:
    """The standard rate within 5 % of a measured average (VFR sources), else the nearest integer."""
    nearest = min(STANDARD_FRAME_RATES, key=lambda standard: abs(standard - rate) / standard)
    if abs(nearest - rate) / nearest <= Fraction(1, 20):
        return nearest
    return Fraction(max(1, round(rate)))


COPYABLE_PROFILES = {"High", "Main", "Constrained Baseline"}


def copy_refusal(
    *, codec: str, profile: str, pix_fmt: str, sample_aspect_ratio: str, interlaced: bool, variable_frame_rate: bool,
    rotation: int, size: tuple[int, int], video_kbps: int | None, frame_rate: Fraction, packets_per_second: float,
    keyframe_times: list[float], duration: float, rung: Rung, segment_seconds: int,
) -> str | None:  # fmt: skip
    """Why ``rung`` cannot be the source's video stream copied as it is, or None when it can.

    Copying costs almost nothing, but only a stream that any HLS player decodes, at the rung's
    size and within its bitrate cap, with a keyframe exactly on every segment boundary (so that the
    copied rung is cut where the encoded rungs are), may be published untouched.
    """
    frame = 1 / float(frame_rate)
    checks = [
        (codec == "h264", f"codec {codec}, not H.264"),
        (profile in COPYABLE_PROFILES, f"H.264 profile {profile}"),
        (pix_fmt == "yuv420p", f"pixel format {pix_fmt}, not 8-bit 4:2:0"),
        (sample_aspect_ratio in ("1:1", "0:1", "N/A", ""), f"non-square pixels ({sample_aspect_ratio})"),
        (not interlaced and not variable_frame_rate and rotation == 0, "interlaced, variable frame rate or rotated"),
        (size == (rung.width, rung.height), f"{size[0]}x{size[1]} is not the rung's {rung.width}x{rung.height}"),
        (video_kbps is not None and video_kbps <= rung.maxrate_kbps, f"{video_kbps} kbit/s is over the rung's cap"),
        (abs(packets_per_second - float(frame_rate)) <= 0.01 * float(frame_rate), "the frame rate changes on output"),
    ]
    for passed, reason in checks:
        if not passed:
            return reason
    origin = min(keyframe_times, default=0.0)
    keys = sorted(t - origin for t in keyframe_times)
    for boundary in range(0, math.ceil(duration / segment_seconds)):
        at = boundary * segment_seconds
        if not any(abs(t - at) < frame / 2 for t in keys):
            return f"no keyframe at {at} s, a segment boundary"
    return None
