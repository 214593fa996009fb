"""The rules of Apple's HLS Authoring Specification and RFC 8216 that a published set must keep,
checked on the stored set before the flip: players on Apple devices and TVs refuse what hls.js
forgives. Each problem names its rule, so the ledger says which one failed."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import PurePosixPath

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.ladder import APPLE_MAX_H264_LEVEL, H264_LEVELS, MAX_FRAME_RATE, level_name, macroblocks
from hls_operators.core.playlists import (
    StreamInf,
    average_bit_rate,
    master_entries,
    parse_media_playlist,
    parse_renditions,
    parse_stream_infs,
    parse_target_duration,
    peak_bit_rate,
)
from hls_operators.core.probe import HDR_RANGES
from hls_operators.core.trickplay import parse_iframe_playlist
from hls_operators.core.video_codecs import H264_CODECS, HEVC_CODECS

# H.264 profile_idc at most High: Baseline, Main, Extended, High.
APPLE_H264_PROFILES = {66: "Baseline", 77: "Main", 88: "Extended", 100: "High"}
# HEVC general_profile_idc at most Main10, and general_level_idc (30 x the level) at most 5.0.
APPLE_HEVC_PROFILES = {1: "Main", 2: "Main10"}
APPLE_MAX_HEVC_LEVEL = 150
# HEVC's largest picture in luma samples per general_level_idc (ITU-T H.265 Table A.8).
HEVC_MAX_LUMA_PICTURE_SIZE = {
    30: 36_864,
    60: 122_880,
    63: 245_760,
    90: 552_960,
    93: 983_040,
    120: 2_228_224,
    123: 2_228_224,
    150: 8_912_896,
}
BANDWIDTH_TOLERANCE = 0.10  # Apple: measured peak and average within 10 % of what the master declares
MAX_PEAK_TO_AVERAGE = 2.0  # Apple: the peak SHOULD be at most 200 % of the average
HDR_VIDEO_RANGES = tuple(HDR_RANGES.values())  # PQ, HLG
VIDEO_RANGES = ("SDR", *HDR_VIDEO_RANGES)
# Line breaks other than LF that some player splits lines on (hls.js: CR, U+2028, U+0085, ...).
OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def check_conformance(master_text: str, media_texts: dict[str, str], stored: dict[str, int]) -> None:
    """Raise ``verification_failed`` naming every rule the set breaks; ``media_texts`` maps each
    playlist the master names to its text, ``stored`` each stored path to its size."""
    problems = conformance_problems(master_text, media_texts, stored)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise MigrationError(ErrorClass.VERIFICATION_FAILED, f"breaks Apple's HLS authoring rules: {shown}")


def conformance_problems(master_text: str, media_texts: dict[str, str], stored: dict[str, int]) -> list[str]:
    streams = parse_stream_infs(master_text)
    variants = [s for s in streams if not s.iframes]
    problems = _foreign_problems(master_text, media_texts, stored)
    if "#EXT-X-INDEPENDENT-SEGMENTS" not in master_text:
        problems.append("[independent segments] the master does not declare EXT-X-INDEPENDENT-SEGMENTS")
    # The first variant, where players that know nothing of the network start, is not the top rung of
    # its codec (an H.264 rung first, for players without HEVC, may well be above an HEVC twin).
    if variants:
        codec = variants[0].attributes.get("CODECS", "")[:4]
        bandwidths = [s.number("BANDWIDTH") or 0 for s in variants if s.attributes.get("CODECS", "")[:4] == codec]
        if len(bandwidths) > 1 and bandwidths[0] == max(bandwidths):
            problems.append(
                f"[first variant] {variants[0].uri}, the top rung, is listed first: every playback would start on it"
            )
    # A variant's bit rate is its video's plus the largest of each group of renditions playing beside it.
    group_rates: dict[str, tuple[int, int]] = {}
    for rendition in parse_renditions(master_text):
        text = media_texts.get(rendition.uri)
        if text is None:
            continue
        peak, average = _measure(rendition, text, stored)
        group = rendition.attributes.get("GROUP-ID", "")
        known = group_rates.get(group, (0, 0))
        group_rates[group] = (max(known[0], peak), max(known[1], average))
    problems += _video_range_problems(streams)
    for stream in streams:
        problems += _codec_problems(stream)
        text = media_texts.get(stream.uri)
        if text is None:
            continue
        if stream.attributes.get("CODECS", "").startswith(HEVC_CODECS) and "#EXT-X-MAP:" not in text:
            problems.append(f"[apple 1.5 HEVC container] {stream.uri}: HEVC in segments that are not fMP4")
        groups = [stream.attributes[name] for name in ("AUDIO", "SUBTITLES") if name in stream.attributes]
        problems += _bandwidth_problems(stream, text, stored, [group_rates.get(group, (0, 0)) for group in groups])
        if "AUDIO" in stream.attributes and "mp4a." not in stream.attributes.get("CODECS", ""):
            problems.append(
                f"[CODECS] {stream.uri} plays with the audio group {stream.attributes['AUDIO']} but declares no audio codec"
            )
    return problems


def _foreign_problems(master_text: str, media_texts: dict[str, str], stored: dict[str, int]) -> list[str]:
    """Nothing but the stored set: a stream or rendition whose URI is not one of its files (another
    origin, a path out of the set) would make players load what nobody verified. Read as the most
    lenient player reads (lines split on every line break), so that what it sees is checked too."""
    problems = [
        f"[stored set] {name} has a line break other than LF"
        for name, text in {"the master": master_text, **media_texts}.items()
        if OTHER_LINE_BREAKS.search(text)
    ]
    known = set(stored) | set(media_texts)
    for stream in master_entries(master_text):
        if stream.uri and stream.uri not in known:
            problems.append(f"[stored set] the master names {stream.uri!r}, which is not a file of the set")
        elif not stream.uri and stream.attributes.get("TYPE") in ("AUDIO", "SUBTITLES"):
            problems.append(
                f"[stored set] the {stream.attributes['TYPE'].lower()} rendition {stream.attributes.get('NAME')!r} names no file"
            )
    return problems


def _video_range_problems(streams: list[StreamInf]) -> list[str]:
    """HDR only in HEVC Main10 (HDR10 or HLG), every stream saying its VIDEO-RANGE once one is HDR
    (so a player without HDR can keep to the others), and SDR variants and I-frame playlists
    beside the HDR ones, for backward compatibility."""
    problems = [
        f"[VIDEO-RANGE] {s.uri}: {s.attributes['VIDEO-RANGE']} is not SDR, PQ or HLG"
        for s in streams
        if s.attributes.get("VIDEO-RANGE", "SDR") not in VIDEO_RANGES
    ]
    hdr = [s for s in streams if s.attributes.get("VIDEO-RANGE") in HDR_VIDEO_RANGES]
    if not hdr:
        return problems
    unsaid = [s.uri for s in streams if "VIDEO-RANGE" not in s.attributes]
    if unsaid:
        problems.append(
            f"[apple HDR VIDEO-RANGE] HDR variants beside streams that declare no VIDEO-RANGE: {', '.join(unsaid)}"
        )
    for stream in hdr:
        video = stream.attributes.get("CODECS", "").split(",")[0]
        if not video.startswith(tuple(f"{entry}2." for entry in HEVC_CODECS)):
            problems.append(
                f"[apple 1.7 HDR codec] {stream.uri}: {stream.attributes['VIDEO-RANGE']} in {video}, not HEVC Main10"
            )
    for iframes, rule in ((False, "apple 1.24 SDR variants"), (True, "apple 6.16 SDR trick play")):
        if not any(
            s.attributes.get("VIDEO-RANGE", "SDR") == "SDR" for s in streams if s.iframes == iframes
        ):  # SDR when unsaid
            kind = "I-frame playlist" if iframes else "variant"
            problems.append(f"[{rule}] HDR {kind}s without an SDR one")
    return problems


def _codec_problems(stream: StreamInf) -> list[str]:
    """H.264 at most High profile, Level 4.2, or HEVC at most Main10, Level 5.0, each with a frame
    size that its level holds; at most 60 fps."""
    codecs = stream.attributes.get("CODECS", "")
    video = next((c for c in codecs.split(",") if c.startswith(H264_CODECS + HEVC_CODECS)), None)
    if video is None:
        return [f"[CODECS] {stream.uri} declares no H.264 or HEVC video codec ({codecs or 'no CODECS'})"]
    problems = _hevc_problems(stream, video) if video.startswith(HEVC_CODECS) else _h264_problems(stream, video)
    rate = stream.attributes.get("FRAME-RATE")
    if rate and Fraction(rate) > MAX_FRAME_RATE:
        problems.append(f"[apple 1.15 frame rate] {stream.uri}: {rate} fps is above 60")
    return problems


def _resolution(stream: StreamInf) -> tuple[int, int] | None:
    width, _, height = stream.attributes.get("RESOLUTION", "").partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def _hevc_problems(stream: StreamInf, video: str) -> list[str]:
    parts = video.split(".")
    try:
        profile, tier, level = int(parts[1].lstrip("ABC")), parts[3][0], int(parts[3][1:])
    except (IndexError, ValueError):
        return [f"[CODECS] {stream.uri}: {video} is not an RFC 6381 HEVC string"]
    problems = []
    if parts[1][0] in "ABC" or profile not in APPLE_HEVC_PROFILES:
        problems.append(f"[apple 1.6 HEVC profile] {stream.uri}: {video} is not Main or Main10")
    if tier not in "LH" or level > APPLE_MAX_HEVC_LEVEL:
        problems.append(f"[apple 1.6 HEVC level] {stream.uri}: {video} is above Level 5.0, High tier")
    size = _resolution(stream)
    picture_limit = HEVC_MAX_LUMA_PICTURE_SIZE.get(level)
    if size and picture_limit is not None and size[0] * size[1] > picture_limit:
        problems.append(
            f"[apple 1.6 HEVC level] {stream.uri}: {size[0]}x{size[1]} is larger than Level {level / 30:g} allows"
        )
    return problems


def _h264_problems(stream: StreamInf, video: str) -> list[str]:
    problems = []
    try:
        profile, level = int(video[5:7], 16), int(video[9:11], 16)
    except ValueError:
        return [f"[CODECS] {stream.uri}: {video} is not an RFC 6381 avc1 string"]
    if profile not in APPLE_H264_PROFILES:
        problems.append(f"[apple 1.3 H.264 profile] {stream.uri}: profile_idc {profile} is above High")
    if level > APPLE_MAX_H264_LEVEL:
        problems.append(f"[apple 1.3 H.264 level] {stream.uri}: Level {level_name(level)} is above 4.2")
    size = _resolution(stream)
    frame_limit = next((frame for idc, _, frame, _, _ in H264_LEVELS if idc == level), None)
    if size and frame_limit is not None and macroblocks(*size) > frame_limit:
        problems.append(
            f"[apple 1.3 H.264 level] {stream.uri}: {size[0]}x{size[1]} is larger than Level {level_name(level)} allows"
        )
    return problems


def _measure(stream: StreamInf, text: str, stored: dict[str, int]) -> tuple[int, int]:
    """(peak, average) of one playlist as RFC 8216 measures them (0, 0 for an empty one)."""
    folder = PurePosixPath(stream.uri).parent
    if stream.iframes:
        pieces = [(frame.length, frame.duration) for frame in parse_iframe_playlist(text)]
    else:
        pieces = [(stored.get((folder / s.uri).as_posix(), 0), s.duration) for s in parse_media_playlist(text)]
    if not pieces:
        return 0, 0
    return peak_bit_rate(pieces, parse_target_duration(text)), average_bit_rate(pieces)


def _bandwidth_problems(
    stream: StreamInf, text: str, stored: dict[str, int], beside: list[tuple[int, int]]
) -> list[str]:
    """BANDWIDTH and AVERAGE-BANDWIDTH as RFC 8216 measures them (with the renditions ``beside``
    the variant), within Apple's 10 %."""
    peak, average = _measure(stream, text, stored)
    if peak == 0:
        return [f"[RFC 8216 BANDWIDTH] {stream.uri} has no segment to measure"]
    peak, average = peak + sum(p for p, _ in beside), average + sum(a for _, a in beside)
    problems = []
    for name, measured in (("BANDWIDTH", peak), ("AVERAGE-BANDWIDTH", average)):
        declared = stream.number(name)
        if declared is None:
            problems.append(f"[apple bit rates {name}] {stream.uri} declares no {name}")
        elif abs(measured - declared) > BANDWIDTH_TOLERANCE * declared:
            problems.append(f"[apple bit rates {name}] {stream.uri} declares {declared} bit/s, measured {measured}")
    if not stream.iframes and peak > MAX_PEAK_TO_AVERAGE * average:
        problems.append(
            f"[apple bit rates peak to average] {stream.uri}: peak {peak} bit/s is over twice the average {average}"
        )
    return problems
