"""Ladder planning: which renditions a source gets, computed from its probe, never hard-coded.

Rules: rungs are named by their short side (so a portrait 1080x1920 phone video gets a "1080p" rung
of 1080x1920); a rung never exceeds the source's short side (no upscaling); the aspect ratio is kept
with even dimensions (H.264 4:2:0 needs them); a source smaller than the lowest rung gets one rung at
its own size.
"""

from __future__ import annotations

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
        return cls(name=data["name"], width=data["width"], height=data["height"], video_kbps=data["video_kbps"])


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
