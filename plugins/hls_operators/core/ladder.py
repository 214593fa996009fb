"""Ladder planning: which renditions a source gets, computed from its probe, never hard-coded.

Rules: a rung named by its short side ("720p") fits that size's 16:9 box (1280x720; 9:16 for
portrait video), so a 2.39:1 scope film's 1080p rung is 1920x802, not 2586x1080 (which H.264 Level
4.2, Apple's limit, does not allow); a rung never exceeds the source (no upscaling); the aspect
ratio is kept with even dimensions (H.264 4:2:0 needs them); a source between two rung sizes (540p,
576p, 800p) gets a rung at its own size instead of being cut down to the next one, and a source
smaller than the lowest rung gets one rung at its own size. Each rung's H.264 level is the lowest
that holds its size, frame rate and bitrate cap. Each rung carries the reason it is there, which
the ledger keeps. With ``hls_video_codecs`` ``h264,hevc`` every rung gets an HEVC twin at the same
size and a lower bitrate (``with_hevc_rungs``), after the H.264 rungs: players that decode HEVC
pick it, the others never see it.

A rung's bitrate is its cap: with ``hls_rate_control`` ``quality`` each rung is encoded to a constant
quality and spends less where the movie is easy; once the rungs are encoded, a rung that is barely
cheaper than the one above it (the picture has no detail the lower size loses) is dropped
(``redundant_rungs``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

from hls_operators.core.video_codecs import H264, HEVC, VIDEO_CODECS

MAX_FRAME_RATE = Fraction(60)
BOX_ASPECT = Fraction(16, 9)
STANDARD_FRAME_RATES = [
    Fraction(r) for r in (10, 12, 15, 20, "24000/1001", 24, 25, "30000/1001", 30, 48, 50, "60000/1001", 60)
]
# Peak limit and VBV buffer relative to the target bitrate: capped VBR keeps the peak segment
# bitrate (what BANDWIDTH declares) close to the average, which players' ABR logic relies on.
MAXRATE_FACTOR = 1.1
BUFSIZE_FACTOR = 2.0
# Adjacent rungs must differ by at least this factor in pixels: a source whose size is more than
# OWN_SIZE_GAIN times the rung it would be cut down to gets a rung at its own size, which replaces
# that rung when the two are closer than RUNG_PIXEL_STEP.
OWN_SIZE_GAIN = Fraction(6, 5)
RUNG_PIXEL_STEP = Fraction(3, 2)
# Apple's HLS authoring guidance spaces adjacent bit rates by a factor of 1.5 to 2: an encoded rung
# that costs more than 1 / RUNG_BITRATE_STEP of the rung kept above it looks almost as good as that
# one (the picture has little detail the smaller size loses) and saves too little to switch to.
RUNG_BITRATE_STEP = 1.5
# An HEVC rung's bitrate relative to the H.264 rung of its size, as in Apple's ladders (4.5 vs 6
# Mbit/s at 1080p): at three quarters of its bitrate x265 ``slow`` scored -0.4 to +2.5 VMAF against
# x264 ``faster`` over the bench set; at two thirds it lost 0.6 to 0.7 (docs/performance.md).
HEVC_BITRATE_SHARE = Fraction(3, 4)


# H.264 levels (ITU-T H.264 Table A-1) up to 4.2, the highest Apple's HLS authoring rules allow:
# (level_idc, max macroblocks per second, max frame size in macroblocks, max DPB in macroblocks,
# max video bit rate in kbit/s for Main; High may use 1.25 times that).
H264_LEVELS = [
    (10, 1_485, 99, 396, 64),
    (11, 3_000, 396, 900, 192),
    (12, 6_000, 396, 2_376, 384),
    (13, 11_880, 396, 2_376, 768),
    (20, 11_880, 396, 2_376, 2_000),
    (21, 19_800, 792, 4_752, 4_000),
    (22, 20_250, 1_620, 8_100, 4_000),
    (30, 40_500, 1_620, 8_100, 10_000),
    (31, 108_000, 3_600, 18_000, 14_000),
    (32, 216_000, 5_120, 20_480, 20_000),
    (40, 245_760, 8_192, 32_768, 20_000),
    (41, 245_760, 8_192, 32_768, 50_000),
    (42, 522_240, 8_704, 34_816, 50_000),
]
APPLE_MAX_H264_LEVEL = 42
HIGH_PROFILE_BITRATE_FACTOR = Fraction(5, 4)


def macroblocks(width: int, height: int) -> int:
    return math.ceil(width / 16) * math.ceil(height / 16)


def h264_level(width: int, height: int, frame_rate: Fraction, maxrate_kbps: int) -> int:
    """The lowest level (``level_idc``, 40 = 4.0) of High profile that holds a stream of this size,
    frame rate and peak bitrate; ValueError above Level 4.2."""
    frame = macroblocks(width, height)
    for level, per_second, frame_size, _, kbps in H264_LEVELS:
        if (
            frame <= frame_size
            and frame * frame_rate <= per_second
            and maxrate_kbps <= kbps * HIGH_PROFILE_BITRATE_FACTOR
        ):
            return level
    raise ValueError(
        f"{width}x{height} at {float(frame_rate):.3f} fps and {maxrate_kbps} kbit/s is above H.264 Level 4.2"
    )


def max_reference_frames(level: int, width: int, height: int) -> int:
    """How many reference frames a stream of this size may keep at ``level`` (its DPB size)."""
    dpb = next((dpb for idc, _, _, dpb, _ in H264_LEVELS if idc == level), None)
    if dpb is None:
        raise ValueError(f"H.264 level_idc {level} is not one Apple's rules allow")
    return min(16, dpb // macroblocks(width, height))


def level_name(level: int) -> str:
    return f"{level // 10}.{level % 10}"


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
    reason: str = ""  # why the ladder has this rung, for the ledger
    codec: str = H264.name  # a key of video_codecs.VIDEO_CODECS
    quality: float | None = None  # VMAF the per-title probe expects at its bitrate (None: not probed)

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
            name=data["name"],
            width=data["width"],
            height=data["height"],
            video_kbps=data["video_kbps"],
            source_copy=bool(data.get("source_copy", False)),
            reason=data.get("reason", ""),
            codec=data.get("codec", H264.name),
            quality=data.get("quality"),
        )


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


def fit_box(short_side: int, width: int, height: int) -> tuple[int, int]:
    """The rung ``short_side`` for a ``width`` x ``height`` picture: the picture's shape, as large as
    fits the 16:9 box of that name (9:16 when the picture is portrait), with even sides."""
    long, short = max(width, height), min(width, height)
    box_long = short_side * BOX_ASPECT
    if Fraction(long, short) > BOX_ASPECT:  # wider than the box: its long side is the limit
        rung_long, rung_short = even(box_long), even(box_long * short / long)
    else:
        rung_long, rung_short = even(long * short_side / short), short_side
    return (rung_long, rung_short) if width >= height else (rung_short, rung_long)


def plan_ladder(width: int, height: int, specs: list[RungSpec]) -> list[Rung]:
    """Rungs for a source of ``width`` x ``height`` display pixels (rotation already applied)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid source size {width}x{height}")
    own_w, own_h = max(2, width - width % 2), max(2, height - height % 2)  # round down: never upscale
    rungs: list[Rung] = []
    for above, spec in zip([None, *specs], specs):
        w, h = fit_box(spec.short_side, width, height)
        if w > width or h > height:
            continue
        if not rungs and above is not None and own_w * own_h > OWN_SIZE_GAIN * w * h:
            # The source sits between two rungs: its own size, at a bitrate between theirs by pixels.
            above_w, above_h = fit_box(above.short_side, width, height)
            share = Fraction(own_w * own_h - w * h, above_w * above_h - w * h)
            kbps = round(spec.video_kbps + share * (above.video_kbps - spec.video_kbps))
            reason = f"the source's own size, between the {above.short_side}p and {spec.short_side}p rungs"
            rungs.append(Rung(f"{min(own_w, own_h)}p", own_w, own_h, kbps, reason=reason))
            if own_w * own_h < RUNG_PIXEL_STEP * w * h:
                continue  # the rung below would be too close to it to be worth a switch
        rungs.append(Rung(f"{spec.short_side}p", w, h, spec.video_kbps, reason=f"fits the {spec.short_side}p box"))
    if not rungs:
        # Below the lowest rung: keep the source size, with bitrate scaled by pixel count.
        lowest = specs[-1]
        lowest_w, lowest_h = fit_box(lowest.short_side, width, height)
        kbps = max(64, round(lowest.video_kbps * own_w * own_h / (lowest_w * lowest_h)))
        reason = f"the source's own size, below the lowest rung ({lowest.short_side}p)"
        rungs.append(Rung(f"{min(own_w, own_h)}p", own_w, own_h, kbps, reason=reason))
    return rungs


def with_hevc_rungs(ladder: list[Rung]) -> list[Rung]:
    """The ``ladder`` and, after it, an HEVC twin of each of its rungs: the same size, at
    ``HEVC_BITRATE_SHARE`` of the bitrate, always encoded."""
    twins = [
        Rung(
            f"{rung.name}{HEVC.rung_suffix}",
            rung.width,
            rung.height,
            max(64, round(rung.video_kbps * HEVC_BITRATE_SHARE)),
            reason=f"HEVC beside {rung.name}, for the players that decode it",
            codec=HEVC.name,
        )
        for rung in ladder
    ]
    return [*ladder, *twins]


def redundant_rungs(ladder: list[Rung], kbps: dict[str, float]) -> dict[str, str]:
    """The rungs to drop, by name, each with its reason, from each encoded rung's average bitrate
    ``kbps`` (a rung missing from it is kept); each codec's rungs are a ladder of their own."""
    return {
        name: reason
        for codec in VIDEO_CODECS
        for name, reason in _redundant_in_one_codec([rung for rung in ladder if rung.codec == codec], kbps).items()
    }


def _redundant_in_one_codec(ladder: list[Rung], kbps: dict[str, float]) -> dict[str, str]:
    """The top rung stays (the best picture) and so does the lowest (the slowest links): when the
    lowest is too close to the rung kept above it, that one goes instead, unless it is the top."""
    if not ladder:
        return {}
    dropped: dict[str, str] = {}
    kept = [ladder[0]]
    for rung in ladder[1:]:
        above = kept[-1]
        if rung.name not in kbps or above.name not in kbps or kbps[above.name] >= RUNG_BITRATE_STEP * kbps[rung.name]:
            kept.append(rung)
            continue
        share = f"{kbps[rung.name]:.0f} kbit/s, {kbps[rung.name] / kbps[above.name]:.0%} of {above.name}'s {kbps[above.name]:.0f}"
        if rung is not ladder[-1]:
            dropped[rung.name] = f"redundant: {share}"
        elif above is not ladder[0]:
            dropped[above.name] = f"redundant: the lowest rung {rung.name} is at {share}, and the lowest stays"
            kept[-1] = rung
    return dropped


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
