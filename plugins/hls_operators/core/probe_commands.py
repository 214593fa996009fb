"""ffprobe and ffmpeg command lines that read a file without changing it: the probe, the encoders
ffmpeg has, packets and keyframes, segments' start times and profiles, frame counts.

Built as argument lists from typed inputs, apart from running them (``edges/ffmpeg.py``), so that
each flag can be unit-tested and carries its reason here. Commands never go through a shell.
"""

from __future__ import annotations

from pathlib import Path

from hls_operators.core.commands import FFMPEG, QUIET, SAFE_INPUT


def list_encoders() -> list[str]:
    """ffmpeg's table of encoders: the preflight checks the ones a run needs are built in."""
    return ["ffmpeg", "-hide_banner", "-encoders"]


def ffprobe_version() -> list[str]:
    """The cheapest proof that ffprobe runs."""
    return ["ffprobe", "-hide_banner", "-version"]


def probe_args(source: Path) -> list[str]:
    return ["ffprobe", *QUIET, *SAFE_INPUT, "-print_format", "json", "-show_format", "-show_streams", str(source)]


def first_frame_args(source: Path, video_index: int) -> list[str]:
    """The first video frame's side data, where HDR10's static metadata travels (SEI)."""
    return ["ffprobe", *QUIET, *SAFE_INPUT, "-select_streams", str(video_index), "-read_intervals", "%+#1",
            "-show_frames", "-print_format", "json", str(source)]  # fmt: skip


def segments_input(segments: list[str], init: str | None = None) -> list[str]:
    """Segments read back to back as one input, after their Media Initialization Section (fMP4's
    ``EXT-X-MAP``, without which an fMP4 segment cannot be read)."""
    return ["-protocol_whitelist", "file,concat", "-i", "concat:" + "|".join(([init] if init else []) + segments)]


def start_time_args(segment: str, init: str | None = None) -> list[str]:
    """Where a segment's timestamps start: the first video segment's is the movie's 0 s."""
    return ["ffprobe", *QUIET, *segments_input([segment], init), "-show_entries", "format=start_time", "-of", "csv=p=0"]


def video_profile_args(segment: str, init: str | None = None) -> list[str]:
    """The profile, level and transfer the encoder really wrote, for the CODECS and VIDEO-RANGE attributes."""
    return [
        "ffprobe",
        *QUIET,
        *segments_input([segment], init),
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=profile,level,color_transfer",
        "-of",
        "json",
    ]


def frame_count_args(path: Path) -> list[str]:
    """How many frames a chunk's video holds, as its container counts them."""
    return [
        "ffprobe",
        *QUIET,
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=nb_frames",
        "-of",
        "csv=p=0",
        str(path),
    ]


def stream_packets_args(source: Path, video_index: int) -> list[str]:
    """The video stream's profile, level, reference frames and aspect, and every packet's time and
    flags: demuxing only, no decoding, so it reads a whole movie in seconds. One line per packet
    (``packet|pts_time=...|flags=K_``), read as it comes (``parse_compact_line``)."""
    return [
        "ffprobe",
        *QUIET,
        *SAFE_INPUT,
        "-select_streams",
        str(video_index),
        "-show_entries",
        "stream=profile,level,refs,sample_aspect_ratio:packet=pts_time,flags",
        "-of",
        "compact=p=1",
        str(source),
    ]


def idr_packets_args(source: Path, video_index: int) -> list[str]:
    """The H.264 video's IDR access units only, one line each (``framecrc``: timestamps in the
    stream's time base, kept as the file has them like ffprobe's): a keyframe flag is no IDR
    (open-GOP I-frames carry it too), the NAL unit type is. Copies without decoding."""
    return [
        *FFMPEG, "-copyts", *SAFE_INPUT, "-i", str(source), "-map", f"0:{video_index}", "-c", "copy",
        "-bsf:v", "filter_units=pass_types=5", "-f", "framecrc", "-",
    ]  # fmt: skip


def keyframe_index_args(segment_names: list[str], init: str | None = None) -> list[str]:
    """Every video packet (time, byte position, key flag) of segments read back to back, run in
    their folder: positions count from the first byte of the ``init`` section, or of the first segment."""
    return [
        "ffprobe",
        *QUIET,
        *segments_input(segment_names, init),
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts_time,pos,flags",
        "-of",
        "csv=p=0",
    ]
