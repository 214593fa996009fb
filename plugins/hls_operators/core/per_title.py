"""Per-title rates (``hls_rate_control`` ``per_title``): each rung gets the fewest bits that reach
the quality target, never more than the fixed ladder gives it unless the title is hard, and a rung
that shows nothing the rung below does not is dropped.

A complexity probe encodes a few short samples of the movie, every rung at its fixed-ladder bitrate,
and scores each with VMAF, the picture scaled to the source's size; then a rung above the target
is sampled again lower, and a top rung below it at its ceiling. From those points, per rung:

- above the target at its fixed bitrate (an easy title), the rung falls to the rate that reaches
  the target: VMAF above about 95 is not visibly better, so those bits buy nothing;
- below the target (a hard title), the top rung rises toward it, up to ``ceiling`` times its fixed
  bitrate; the lower rungs stay where they are (they are limited by their size more than by bits);
- in between, the rung keeps its fixed bitrate: exactly the fixed ladder's encode;
- the lowest rung stays for the slowest links, below every rung above it by Apple's spacing.

So at every bandwidth of the fixed ladder a viewer gets a picture at least as good as the fixed
ladder's, up to the target, for fewer bytes overall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hls_operators.core.chunks import Chunk
from hls_operators.core.ladder import RUNG_BITRATE_STEP, Rung

# The probe samples at most this share of the movie (a long movie: per_title_samples windows).
SAMPLED_SHARE = 0.1
# A rung above the target at its fixed bitrate is sampled again at these fractions of it, to find
# the rate where it reaches the target by interpolation.
FALLING_RATE_FACTORS = (0.25, 0.5)
# The probe's estimate carries an error (a few seconds stand for the movie): a falling rung aims
# this much above the target, so that the published rung still reaches it.
TARGET_MARGIN = 0.5
# A rung within this much VMAF of the rung below it shows a viewer nothing more: it is dropped.
SAME_QUALITY = 0.5


@dataclass(frozen=True)
class SamplePoint:
    """One rung of the samples encoded at one rate: what it cost and how it scored."""

    kbps: float
    quality: float  # VMAF (v0.6.1), the rung scaled bicubic to the source's size


@dataclass(frozen=True)
class RungChoice:
    """A rung's per-title rate and the quality the probe expects of it there."""

    rung: Rung
    quality: float
    reason: str


def sample_windows(duration: float, count: int, seconds: int) -> list[Chunk]:
    """Up to ``count`` windows of ``seconds`` spread evenly over the movie (each at the middle of its
    share of it), together at most ``SAMPLED_SHARE`` of it: a short movie gets one shorter window,
    of a second at least."""
    budget = duration * SAMPLED_SHARE
    if budget < seconds:
        seconds, count = max(1, int(budget)), 1
    count = max(1, min(count, int(budget / seconds)))
    if duration <= seconds:
        return [Chunk(0, 0, None)]
    starts = [max(0, int(duration * (2 * index + 1) / (2 * count) - seconds / 2)) for index in range(count)]
    return [Chunk(index, start, start + seconds) for index, start in enumerate(starts)]


def second_rates(
    rungs: list[Rung], points: dict[str, list[SamplePoint]], *, target: float, ceiling: float, top: Rung | None
) -> dict[str, list[int]]:
    """After every rung (highest first) was sampled at its fixed bitrate: the rates to sample next.
    A rung above the target falls, so it is sampled lower (``FALLING_RATE_FACTORS``), and so is the
    lowest rung then (it may have to fall below the rungs above it); the ``top`` rung (None: the
    top is the source's stream, copied) below the target may rise, so it is sampled at its ceiling."""
    falling = [rung for rung in rungs if quality_at(points[rung.name], rung.video_kbps) > target + TARGET_MARGIN]
    if falling and rungs[-1] not in falling:
        falling.append(rungs[-1])
    rates = {rung.name: [max(1, round(rung.video_kbps * f)) for f in FALLING_RATE_FACTORS] for rung in falling}
    if top is not None and ceiling > 1 and quality_at(points[top.name], top.video_kbps) < target:
        rates[top.name] = [round(top.video_kbps * ceiling)]
    return rates


def quality_at(points: list[SamplePoint], kbps: float) -> float:
    """The quality at ``kbps`` on the curve through ``points``: linear in the rate's logarithm between
    them, flat beyond the highest, following the first segment below the lowest."""
    curve = _curve(points)
    if len(curve) == 1 or kbps >= curve[-1].kbps:
        return curve[-1].quality if kbps >= curve[-1].kbps else curve[0].quality
    low, high = next((a, b) for a, b in zip(curve, curve[1:]) if kbps <= b.kbps or b is curve[-1])
    share = (math.log(kbps) - math.log(low.kbps)) / (math.log(high.kbps) - math.log(low.kbps))
    return low.quality + share * (high.quality - low.quality)


def rate_for(points: list[SamplePoint], quality: float) -> float | None:
    """The lowest rate on the curve through ``points`` that reaches ``quality`` (None: none of the
    sampled rates does)."""
    curve = _curve(points)
    if curve[0].quality >= quality:
        return curve[0].kbps
    for low, high in zip(curve, curve[1:]):
        if high.quality >= quality:
            share = (quality - low.quality) / (high.quality - low.quality)
            return math.exp(math.log(low.kbps) + share * (math.log(high.kbps) - math.log(low.kbps)))
    return None


def _curve(points: list[SamplePoint]) -> list[SamplePoint]:
    """The points by rate, each at least as good as the cheaper ones (more bits never score worse:
    a dip is the samples' noise), one per rate."""
    curve: list[SamplePoint] = []
    for point in sorted(points, key=lambda p: p.kbps):
        best = max(point.quality, curve[-1].quality if curve else point.quality)
        if curve and point.kbps == curve[-1].kbps:
            curve[-1] = SamplePoint(point.kbps, best)
        else:
            curve.append(SamplePoint(point.kbps, best))
    if not curve:
        raise ValueError("no sample point to draw a curve through")
    return curve


def choose_rate(
    rung: Rung, points: list[SamplePoint], *, target: float, ceiling: float, top: bool, at_most: int | None = None
) -> RungChoice:
    """The rung at its per-title rate (see the module's rules), with the quality the probe expects;
    ``at_most``: the lowest rung's limit, below every rung above it (it stays for the slowest links)."""
    fixed = rung.video_kbps
    at_fixed = quality_at(points, fixed)
    kbps, why = (
        fixed,
        f"keeps its {fixed} kbit/s, "
        + ("within the margin of the target" if at_fixed >= target else "below the target: only the top rung rises"),
    )
    if at_fixed > target + TARGET_MARGIN:
        kbps = min(fixed, round(rate_for(points, target + TARGET_MARGIN) or fixed))
        why = f"reaches VMAF {target:g} below its {fixed} kbit/s"
    elif at_fixed < target and top and ceiling > 1:
        needed = rate_for(points, target)
        risen = round(min(needed or fixed * ceiling, fixed * ceiling))
        if risen > fixed:
            how = "reaches" if needed and needed <= fixed * ceiling else f"rises to its ceiling ({ceiling:g}x) toward"
            kbps, why = risen, f"a hard title: {how} VMAF {target:g} above its {fixed} kbit/s"
    if at_most is not None and kbps > at_most:
        kbps, why = at_most, f"the lowest rung, below the rungs above it: {at_most} kbit/s of its {fixed}"
    return _choice(rung, kbps, points, why)


def choose_rates(
    rungs: list[Rung], points: dict[str, list[SamplePoint]], *, target: float, ceiling: float, top: Rung | None
) -> list[RungChoice]:
    """Every rung's choice (highest first, ``choose_rate``), the lowest kept below the cheapest rung
    above it by Apple's spacing (``RUNG_BITRATE_STEP``): it stays for the slowest links."""
    choices: list[RungChoice] = []
    for rung in rungs:
        cheapest_above = min((choice.rung.video_kbps for choice in choices), default=None)
        at_most = round(cheapest_above / RUNG_BITRATE_STEP) if rung is rungs[-1] and cheapest_above else None
        choices.append(
            choose_rate(rung, points[rung.name], target=target, ceiling=ceiling, top=rung is top, at_most=at_most)
        )
    return choices


def _choice(rung: Rung, kbps: int, points: list[SamplePoint], why: str) -> RungChoice:
    quality = round(quality_at(points, kbps), 1)
    reason = f"{rung.reason}; per title: {why} (VMAF {quality:.1f} expected at {kbps} kbit/s)"
    return RungChoice(replace(rung, video_kbps=kbps, reason=reason, quality=quality), quality, why)


def drop_redundant(choices: list[RungChoice]) -> tuple[list[RungChoice], dict[str, str]]:
    """The rungs a viewer can tell apart, highest first, and the dropped ones with the reason: a rung
    that a cheaper one below it matches within ``SAME_QUALITY``, and a rung that costs at least as
    much as a better one above it."""
    kept: list[RungChoice] = []
    dropped: dict[str, str] = {}
    for choice in choices:
        rung = choice.rung
        while kept and choice.quality >= kept[-1].quality - SAME_QUALITY and rung.video_kbps < kept[-1].rung.video_kbps:
            above = kept.pop()
            dropped[above.rung.name] = (
                f"per title: {rung.name} scores VMAF {choice.quality:.1f} at {rung.video_kbps} kbit/s, "
                f"as good as its {above.quality:.1f} at {above.rung.video_kbps} kbit/s"
            )
        if kept and rung.video_kbps >= kept[-1].rung.video_kbps:
            above = kept[-1]
            dropped[rung.name] = (
                f"per title: costs {rung.video_kbps} kbit/s, no less than {above.rung.name}, "
                f"which scores VMAF {above.quality:.1f} to its {choice.quality:.1f}"
            )
            continue
        kept.append(choice)
    return kept, dropped
