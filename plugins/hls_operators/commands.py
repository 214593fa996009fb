"""ffmpeg and ffprobe command lines, built as argument lists from typed inputs.

Building is kept apart from running (``hooks.FFmpegRunner``) so that each flag can be unit-tested
and carries its reason here. Commands never go through a shell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hls_operators.ladder import Rung
from hls_operators.probe import ACCEPTED_DEMUXERS, ProbeResult
from hls_operators.trickplay import STORYBOARD_TILE_PATTERN, StoryboardPlan

SEGMENT_PATTERN = "seg_%05d.ts"
MEDIA_PLAYLIST = "index.m3u8"
THUMBNAIL_PATTERN = "thumb_%03d.jpg"
CONTACT_SHEET = "contact_sheet.jpg"

# Read only local files, and only as MP4/MOV: a playlist or ffconcat file disguised as .mp4 must
# never make ffmpeg open other files or URLs.
SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", ACCEPTED_DEMUXERS]
QUIET = ["-hide_banner", "-loglevel", "error"]
FFMPEG = ["ffmpeg", *QUIET, "-nostdin", "-y"]


@dataclass(frozen=True)
class EncodingOptions:
    """Encoder choices shared by every rung of one transcode."""

    segment_seconds: int = 6
    keyframe_seconds: int = 2
    x264_preset: str = "faster"
    audio_kbps: int = 128


def probe_args(source: Path) -> list[str]:
    return ["ffprobe", *QUIET, *SAFE_INPUT, "-print_format", "json", "-show_format", "-show_streams", str(source)]


def _source_filters(probe: ProbeResult) -> list[str]:
    """Filters applied once, before the split into rungs (so the source is decoded and fixed once)."""
    filters = []
    if probe.interlaced:
        filters.append("yadif=mode=send_frame")  # deinterlace: H.264 HLS rungs are progressive
    # Constant frame rate: VFR sources would otherwise give segments and GOPs of uneven length.
    filters.append(f"fps={probe.frame_rate}")
    return filters


def transcode_args(
    source: Path,
    out_dir: Path,
    probe: ProbeResult,
    rungs: list[Rung],
    options: EncodingOptions,
    storyboard: StoryboardPlan | None = None,
    tiles_dir: Path | None = None,
) -> list[str]:
    """One ffmpeg process: decode once, split, scale and encode every rung into its own HLS folder
    (a ``source_copy`` rung takes the source's video stream as it is); with a ``storyboard`` plan,
    the same decode also writes the storyboard's tiles to ``tiles_dir``."""
    encoded = [rung for rung in rungs if not rung.source_copy]
    labels = {rung.name: f"v{i}" for i, rung in enumerate(encoded)}
    branches = len(encoded) + (1 if storyboard else 0)
    split = f"split={branches}" + "".join(f"[s{i}]" for i in range(branches))
    graph = [f"[0:{probe.video_index}]" + ",".join([*_source_filters(probe), split])]
    for i, rung in enumerate(encoded):
        # format=yuv420p: 10-bit and 4:4:4 sources become 8-bit 4:2:0, the only format every HLS player decodes.
        graph.append(f"[s{i}]scale={rung.width}:{rung.height}:flags=bicubic,setsar=1,format=yuv420p[{labels[rung.name]}]")
    if storyboard:
        # The first frame at or after each multiple of the interval: tile n shows n * interval,
        # without drift at fractional frame rates.
        graph.append(
            f"[s{len(encoded)}]setpts=PTS-STARTPTS,select='gte(t,selected_n*{storyboard.interval})',"
            f"scale={storyboard.tile_width}:{storyboard.tile_height}:flags=bicubic,setsar=1,format=yuvj420p[tiles]"
        )

    gop_frames = max(1, math.ceil(probe.fps * options.keyframe_seconds))
    args = [*FFMPEG, "-progress", "pipe:1", "-nostats", *SAFE_INPUT, "-i", str(source)]
    if branches:
        args += ["-filter_complex", ";".join(graph)]
    for rung in rungs:
        rung_dir = out_dir / rung.name
        args += ["-map", f"0:{probe.video_index}" if rung.source_copy else f"[{labels[rung.name]}]"]
        if probe.audio_index is not None:
            args += ["-map", f"0:{probe.audio_index}"]
        if rung.source_copy:
            args += ["-c:v", "copy"]
        else:
            args += [
                "-c:v", "libx264",
                "-preset", options.x264_preset,
                "-profile:v", "high",
                "-b:v", f"{rung.video_kbps}k",
                "-maxrate", f"{rung.maxrate_kbps}k",
                "-bufsize", f"{rung.bufsize_kbps}k",
                # A keyframe exactly on every keyframe_seconds boundary, in every rung, and no extra
                # scene-cut keyframes: this is what makes segment boundaries identical across rungs.
                "-force_key_frames", f"expr:gte(t,n_forced*{options.keyframe_seconds})",
                "-g", str(gop_frames),
                "-sc_threshold", "0",
            ]  # fmt: skip
        if probe.audio_index is not None:
            # Stereo AAC-LC at 48 kHz: surround or odd sample rates break playback in some browsers.
            args += ["-c:a", "aac", "-profile:a", "aac_low", "-ac", "2", "-ar", "48000", "-b:a", f"{options.audio_kbps}k"]
        args += [
            "-f", "hls",
            "-hls_time", str(options.segment_seconds),
            "-hls_playlist_type", "vod",
            "-hls_flags", "independent_segments",
            "-hls_segment_type", "mpegts",
            "-hls_segment_filename", str(rung_dir / SEGMENT_PATTERN),
            str(rung_dir / MEDIA_PLAYLIST),
        ]  # fmt: skip
    if storyboard:
        # passthrough: one JPEG per selected frame, none duplicated to fill a constant rate.
        args += ["-map", "[tiles]", "-fps_mode", "passthrough", "-q:v", "4", "-f", "image2", "-start_number", "0",
                 str(tiles_dir / STORYBOARD_TILE_PATTERN)]  # fmt: skip
    return args


def stream_packets_args(source: Path, video_index: int) -> list[str]:
    """The video stream's profile and aspect, and every packet's time and flags: demuxing only, no
    decoding, so it reads a whole movie in seconds."""
    return [
        "ffprobe", *QUIET, *SAFE_INPUT, "-select_streams", str(video_index),
        "-show_entries", "stream=profile,sample_aspect_ratio:packet=pts_time,flags", "-of", "json", str(source),
    ]  # fmt: skip


def keyframe_index_args(segment_names: list[str]) -> list[str]:
    """Every video packet (time, byte position, key flag) of segments read back to back, run in
    their folder: positions count from the first byte of the first segment."""
    return [
        "ffprobe", *QUIET, "-protocol_whitelist", "file,concat", "-i", "concat:" + "|".join(segment_names),
        "-select_streams", "v:0", "-show_entries", "packet=pts_time,pos,flags", "-of", "csv=p=0",
    ]  # fmt: skip


def thumbnail_times(duration: float, count: int, fps: float) -> list[float]:
    """Evenly spaced instants, each in the middle of its share of the movie (never 0 s: often
    black), and never past the last frames, where a seek finds nothing to decode."""
    last = max(0.0, duration - 2 / fps)
    return [min(duration * (i + 0.5) / count, last) for i in range(count)]


def thumbnail_size(probe: ProbeResult, max_width: int) -> tuple[int, int]:
    """At most ``max_width`` wide, never upscaled, even height."""
    width = min(max_width, probe.width - probe.width % 2)
    height = max(2, round(probe.height * width / probe.width / 2) * 2)
    return width, height


def thumbnail_args(source: Path, target: Path, probe: ProbeResult, at_seconds: float, size: tuple[int, int]) -> list[str]:
    # -ss before -i seeks by index: a thumbnail costs one GOP of decoding, not the movie up to it.
    return [
        *FFMPEG, "-ss", f"{at_seconds:.3f}", *SAFE_INPUT, "-i", str(source),
        "-map", f"0:{probe.video_index}", "-frames:v", "1",
        "-vf", f"scale={size[0]}:{size[1]}:flags=bicubic,setsar=1,format=yuvj420p",
        "-q:v", "3", str(target),
    ]  # fmt: skip


def tile_sheet_args(
    pattern: Path, target: Path, *, start: int, columns: int, rows: int, spacing: int = 0
) -> list[str]:
    """One JPEG of ``columns`` x ``rows`` numbered images from ``start`` on; a short last row stays blank."""
    return [
        *FFMPEG, "-protocol_whitelist", "file", "-f", "image2", "-framerate", "1",
        "-start_number", str(start), "-i", str(pattern),
        "-vf", f"tile={columns}x{rows}:padding={spacing}:margin={spacing}", "-frames:v", "1", "-q:v", "3", str(target),
    ]  # fmt: skip


def contact_sheet_args(thumb_dir: Path, count: int, target: Path) -> list[str]:
    columns = min(5, count)
    rows = math.ceil(count / columns)
    return tile_sheet_args(thumb_dir / THUMBNAIL_PATTERN, target, start=0, columns=columns, rows=rows, spacing=4)

