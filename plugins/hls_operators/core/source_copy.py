"""Whether the top rung can be the source's own video stream, copied: no encode and no quality
lost, but only for a stream that keeps every rule the encoded rungs keep (Apple's High 4.2, the
rung's size and cap, an IDR frame on every segment boundary)."""

from __future__ import annotations

import math
from fractions import Fraction

from hls_operators.core.ladder import APPLE_MAX_H264_LEVEL, H264_LEVELS, Rung, level_name, max_reference_frames

COPYABLE_PROFILES = {"High", "Main", "Constrained Baseline"}


# Keyframe times read back with six decimals: a keyframe this close before a boundary is on it.
CUT_EPSILON_SECONDS = 1e-6


def copy_refusal(
    *,
    codec: str,
    profile: str,
    pix_fmt: str,
    sample_aspect_ratio: str,
    interlaced: bool,
    variable_frame_rate: bool,
    rotation: int,
    size: tuple[int, int],
    video_kbps: int | None,
    frame_rate: Fraction,
    packets_per_second: float,
    level: int,
    reference_frames: int,
    keyframe_times: list[float],
    idr_times: list[float],
    duration: float,
    rung: Rung,
    segment_seconds: int,
) -> str | None:
    """Why ``rung`` cannot be the source's video stream copied as it is, or None when it can.

    Copying costs almost nothing, but only a stream within Apple's High 4.2 (level and reference
    frames), at the rung's size and within its bitrate cap, with an IDR frame on every segment
    boundary (so that the copied rung is cut where the encoded rungs are, and each segment decodes
    on its own), may be published untouched.
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
        (level <= APPLE_MAX_H264_LEVEL, f"H.264 Level {level_name(level)} is above Apple's 4.2"),
    ]
    for passed, reason in checks:
        if not passed:
            return reason
    allowed = max_reference_frames(level, *size) if any(idc == level for idc, *_ in H264_LEVELS) else 0
    if reference_frames > allowed:
        return f"{reference_frames} reference frames, more than Level {level_name(level)} allows at {size[0]}x{size[1]} ({allowed})"
    origin = min(keyframe_times, default=0.0)

    def on_boundary(times: list[float], at: float) -> bool:
        # One-sided: the muxer cuts at the first keyframe at or after a boundary, never before it.
        return any(-CUT_EPSILON_SECONDS <= t - origin - at < frame / 2 for t in times)

    for boundary in range(0, math.ceil(duration / segment_seconds)):
        at = boundary * segment_seconds
        if not on_boundary(idr_times, at):
            if on_boundary(keyframe_times, at):
                return f"the keyframe at {at} s is not an IDR frame (open GOP): a segment starting there would not decode on its own"
            return f"no keyframe at {at} s, a segment boundary"
    return None
