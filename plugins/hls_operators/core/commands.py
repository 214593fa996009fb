"""ffmpeg command lines that encode (a chunk of every rung, the audio), and the flags every command
shares (safe inputs, quiet output, tone mapping), built as argument lists from typed inputs.

Building is kept apart from running (``edges/ffmpeg.py``) so that each flag can be unit-tested
and carries its reason here. Commands never go through a shell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from hls_operators.core import chunks
from hls_operators.core.chunks import Chunk
from hls_operators.core.ladder import Rung, h264_level, level_name
from hls_operators.core.probe import ACCEPTED_DEMUXERS, MediaTrack, ProbeResult
from hls_operators.core.trickplay import STORYBOARD_TILE_PATTERN, StoryboardPlan
from hls_operators.core.video_codecs import H264, HEVC, VIDEO_CODECS

CHUNK_VIDEO = "video.mp4"

# Read only local files, and only as MP4/MOV: a playlist or ffconcat file disguised as .mp4 must
# never make ffmpeg open other files or URLs.
SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", ACCEPTED_DEMUXERS]
QUIET = ["-hide_banner", "-loglevel", "error"]
# PQ or HLG to SDR BT.709: to linear light, BT.2020 primaries to BT.709 in float RGB, the highlights
# compressed (hable, without desaturating), then the BT.709 curve and matrix in limited range. An
# 8-bit H.264 rung still tagged BT.2020/HLG would show washed-out or wrong colours everywhere.
TONE_MAP_TO_SDR = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
    "zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
)
HDR_PIXEL_FORMAT = "yuv420p10le"  # HEVC Main10's 4:2:0
# The colour tags of a tone-mapped rung: what its pixels now are.
BT709_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"]
FFMPEG = ["ffmpeg", *QUIET, "-nostdin", "-y"]


@dataclass(frozen=True)
class EncodingOptions:
    """Encoder choices shared by every rung of one transcode (``Settings.encoding`` makes them)."""

    segment_seconds: int
    keyframe_seconds: int
    x264_preset: str
    x264_params: str
    x265_preset: str  # for the HEVC rungs
    audio_kbps: int
    crf: int | None = None  # capped constant quality; None: each rung's bitrate on average
    segment_format: str = "fmp4"  # a key of SEGMENT_FORMATS


def source_filters(probe: ProbeResult, chunk: Chunk) -> list[str]:
    """Filters applied once, before the split into rungs (so the source is decoded and fixed once),
    ending with the chunk's frames only (an HDR source's tone mapping follows, for its SDR rungs)."""
    filters = []
    if probe.interlaced:
        # Deinterlace, one frame per field (the probe doubled the rate): H.264 HLS rungs are progressive.
        filters.append("yadif=mode=send_field")
    # Constant frame rate on the grid n / fps from the movie's start: VFR sources would otherwise give
    # segments and GOPs of uneven length. The first chunk starts the grid at 0 s (repeating the first
    # frame if the video starts late), so that every rung starts with the audio.
    filters.append(f"fps={probe.frame_rate}" + (":start_time=0" if chunk.start == 0 else ""))
    first, end = chunk.first_frame(probe.fps), chunk.end_frame(probe.fps)
    filters.append(f"trim=start_pts={first}" + (f":end_pts={end}" if end is not None else ""))
    if end is None and probe.held_frame_seconds:
        # The audio goes on after the last frame: hold it, so that every rung lasts as long as the audio.
        filters.append(f"tpad=stop_mode=clone:stop_duration={probe.held_frame_seconds:.3f}")
    return filters


def encode_chunk_args(
    source: Path,
    out_dir: Path,
    probe: ProbeResult,
    rungs: list[Rung],
    options: EncodingOptions,
    chunk: Chunk,
    storyboard: StoryboardPlan | None = None,
    tiles_dir: Path | None = None,
) -> list[str]:
    """One ffmpeg process for one chunk: decode it once, split, scale and encode every rung into
    ``out_dir/<rung>/video.mp4`` (video only); with a ``storyboard`` plan, the same decode also
    writes the chunk's storyboard tiles, numbered for the whole movie, to ``tiles_dir``."""
    labels = {rung.name: f"v{i}" for i, rung in enumerate(rungs)}
    hdr_rungs = [rung for rung in rungs if keeps_hdr(rung, probe)]
    sdr_rungs = [rung for rung in rungs if rung not in hdr_rungs]
    sdr_outputs = (["[frames]"] if sdr_rungs else []) + (["[storyboard]"] if storyboard else [])
    video, tone_map = f"[0:{probe.video_index}]", [TONE_MAP_TO_SDR] if probe.hdr else []
    if hdr_rungs:
        # The rungs that keep HDR take the frames as decoded; the others and the storyboard, tone-mapped.
        graph = [_chain(video, source_filters(probe, chunk), ["[hdr]", *(["[sdr]"] if sdr_outputs else [])])]
        graph += [_chain("[sdr]", tone_map, sdr_outputs)] if sdr_outputs else []
    else:
        graph = [_chain(video, source_filters(probe, chunk) + tone_map, sdr_outputs)]
    graph += _size_cascade("frames", "below", sdr_rungs, labels, "yuv420p")
    graph += _size_cascade("hdr", "hdr_below", hdr_rungs, labels, HDR_PIXEL_FORMAT)
    first_tile = 0
    if storyboard:
        # Frame numbers count from the movie's start here (pts in 1/fps): tile k is the frame at or
        # just after k * interval, the same frame whichever chunk holds it.
        frames_per_tile = Fraction(storyboard.interval).limit_denominator(1000) * probe.fps
        first_tile = chunks.first_tile(chunk.first_frame(probe.fps), frames_per_tile)
        graph.append(
            f"[storyboard]select='gte(pts,ceil(({first_tile}+selected_n)*{frames_per_tile.numerator}/{frames_per_tile.denominator}))',"
            f"scale={storyboard.tile_width}:{storyboard.tile_height}:flags=bicubic,setsar=1,format=yuvj420p[tiles]"
        )

    gop_frames = max(1, math.ceil(probe.fps * options.keyframe_seconds))
    keyframes = _keyframe_expression(chunk, probe.fps, options.keyframe_seconds)
    args = [*FFMPEG, "-progress", "pipe:1", "-nostats"]
    if chunk.seek:
        # Timestamps stay those of the whole movie (from 0 at its start), so that the frame grid and
        # the chunk's frame numbers are the same in every chunk's process.
        args += ["-ss", str(chunk.seek), "-copyts", "-start_at_zero"]
    args += [*SAFE_INPUT, "-i", str(source), "-filter_complex", ";".join(graph)]
    for rung in rungs:
        hdr = rung in hdr_rungs
        args += [
            "-map", f"[{labels[rung.name]}]", "-an",
            *ENCODER_ARGS[rung.codec](rung, probe, options, hdr),
            *_rate_control_args(rung, options, VIDEO_CODECS[rung.codec].crf_offset),
            # A keyframe exactly on every keyframe_seconds boundary, in every rung, and no extra
            # scene-cut keyframes: this is what makes segment boundaries identical across rungs.
            "-force_key_frames", keyframes,
            "-g", str(gop_frames),
            *(_hdr_tags(probe) if hdr else BT709_TAGS if probe.hdr else []),
            str(out_dir / rung.name / CHUNK_VIDEO),
        ]  # fmt: skip
    if storyboard:
        # passthrough: one JPEG per selected frame, none duplicated to fill a constant rate.
        args += ["-map", "[tiles]", "-fps_mode", "passthrough", "-q:v", "4", "-f", "image2",
                 "-start_number", str(first_tile), str(tiles_dir / STORYBOARD_TILE_PATTERN)]  # fmt: skip
    return args


def _rate_control_args(rung: Rung, options: EncodingOptions, crf_offset: int) -> list[str]:
    """An average bitrate spends the rung's bitrate whatever the picture, under its cap; constant
    quality spends what the picture needs. Constant quality presses against its limit wherever the
    picture is hard, and a segment can exceed -maxrate by the VBV buffer over the segment's length:
    so its limit is the rung's own bitrate with 1 s of buffer, which kept every 6 s segment under
    the rung's cap where -maxrate at the cap with 2 s had hard pictures 11 % over it (docs/performance.md)."""
    if options.crf is None:
        return ["-b:v", f"{rung.video_kbps}k", "-maxrate", f"{rung.maxrate_kbps}k", "-bufsize", f"{rung.bufsize_kbps}k"]
    return ["-crf", str(options.crf + crf_offset), "-maxrate", f"{rung.video_kbps}k", "-bufsize", f"{rung.video_kbps}k"]


def _h264_args(rung: Rung, probe: ProbeResult, options: EncodingOptions, hdr: bool) -> list[str]:
    return [
        "-c:v", "libx264",
        "-preset", options.x264_preset,
        *(["-x264-params", options.x264_params] if options.x264_params else []),
        "-profile:v", "high",
        # Signalled level, within Apple's High 4.2; x264 also keeps its reference frames in it.
        "-level:v", level_name(h264_level(rung.width, rung.height, probe.fps, rung.maxrate_kbps)),
        "-sc_threshold", "0",
    ]  # fmt: skip


def _hevc_args(rung: Rung, probe: ProbeResult, options: EncodingOptions, hdr: bool) -> list[str]:
    """x265 in Main profile (8-bit 4:2:0), or Main10 for a rung that keeps the (``hdr``) source's
    range, within Apple's Main10 at Level 5.0 (x265 signals the lowest level that holds the
    stream). Forced keyframes become IDR frames and GOPs are closed (x265's defaults are CRA frames
    and open GOPs, where a segment would not decode on its own); no scene-cut keyframes; the ``hvc1``
    sample entry, the only one Apple's players take. PQ gets x265's HDR10 quantisation and the
    source's static metadata, where it has some."""
    params = ["log-level=error", "scenecut=0", "open-gop=0"]
    if hdr and probe.video_range == "PQ":
        params.append("hdr10-opt=1")
        if probe.master_display or probe.max_cll:
            params.append("hdr10=1")  # the metadata's SEI messages
            params += [f"master-display={probe.master_display}"] if probe.master_display else []
            params += [f"max-cll={probe.max_cll}"] if probe.max_cll else []
    return [
        "-c:v", "libx265",
        "-preset", options.x265_preset,
        "-x265-params", ":".join(params),
        "-forced-idr", "1",
        "-profile:v", "main10" if hdr else "main",
        "-tag:v", "hvc1",
    ]  # fmt: skip


# Each codec's encoder flags (keyed as core/video_codecs.VIDEO_CODECS), from the rung, the source's probe,
# the run's options and whether the rung keeps the source's HDR.
ENCODER_ARGS = {H264.name: _h264_args, HEVC.name: _hevc_args}


def keeps_hdr(rung: Rung, probe: ProbeResult) -> bool:
    """An HEVC rung of an HDR source keeps its range (HEVC Main10: HDR10 for PQ, HLG), as Apple
    asks of HDR variants; H.264 rungs are its tone-mapped SDR, which every player shows right."""
    return probe.hdr and VIDEO_CODECS[rung.codec].keeps_hdr


def _hdr_tags(probe: ProbeResult) -> list[str]:
    """The colour tags of a rung that keeps the source's HDR pixels: the source's own (BT.2020 where
    the source leaves primaries or matrix unsaid, as PQ and HLG are defined with it), limited range."""
    return [
        "-color_primaries", probe.color_primaries or "bt2020",
        "-color_trc", probe.color_transfer,
        "-colorspace", probe.color_space or "bt2020nc",
        "-color_range", "tv",
    ]  # fmt: skip


def _chain(inputs: str, filters: list[str], outputs: list[str]) -> str:
    """One filtergraph chain, split when it feeds more than one output."""
    return inputs + ",".join(filters + ([f"split={len(outputs)}"] if len(outputs) > 1 else [])) + "".join(outputs)


def _size_cascade(upstream: str, below: str, rungs: list[Rung], labels: dict[str, str], pixel_format: str) -> list[str]:
    """The chains from ``upstream``'s frames to each rung's label, by size. Each size is scaled from
    the one above it (1080p -> 720p -> 480p -> 360p), not from the source: far less scaling work,
    within 0.15 VMAF (bench/transcode.py); the rungs of one size (H.264 and its HEVC twin) share its
    frames. setpts: each chunk's video starts at 0 s (the stitch lays chunks end to end);
    ``pixel_format``: 4:2:0 (yuv420p, the only format every HLS player decodes, or its 10-bit for HDR)."""
    sizes = sorted({(rung.width, rung.height) for rung in rungs}, key=lambda size: size[0] * size[1], reverse=True)
    graph, filters = [], ["setpts=PTS-STARTPTS"]
    for i, (width, height) in enumerate(sizes):
        filters.append(f"scale={width}:{height}:flags=bicubic,setsar=1,format={pixel_format}")
        outlets = [f"[{labels[rung.name]}]" for rung in rungs if (rung.width, rung.height) == (width, height)]
        outlets += [f"[{below}{i}]"] if i < len(sizes) - 1 else []
        tail = outlets[0] if len(outlets) == 1 else f",split={len(outlets)}" + "".join(outlets)
        graph.append(f"[{upstream}]" + ",".join(filters) + tail)
        upstream, filters = f"{below}{i}", []
    return graph


def _keyframe_expression(chunk: Chunk, fps: Fraction, keyframe_seconds: int) -> str:
    """Keyframes on the first frame at or after each multiple of ``keyframe_seconds`` of the movie,
    by frame number. The encoder's ``n`` and ``t`` count from the chunk's first frame, and a boundary
    counted from there can fall a frame off the movie's: at 29.97 fps, 36 s is the movie's frame
    1079, but 180 frames after a chunk start at frame 900 (30.03 s)."""
    first_keyframe = -(-chunk.start // keyframe_seconds)
    frames_per_keyframe = fps * keyframe_seconds
    boundary = f"ceil((n_forced+{first_keyframe})*{frames_per_keyframe.numerator}/{frames_per_keyframe.denominator})"
    return f"expr:gte(n+{chunk.first_frame(fps)},{boundary})"


def audio_args(source: Path, track: MediaTrack, options: EncodingOptions, target: Path, duration: float) -> list[str]:
    """One audio track, encoded once for every variant: stereo AAC-LC at 48 kHz (surround or odd
    sample rates break playback in some browsers), from 0 s on like the video (silence fills a late
    start, and gaps over 20 ms, so that it stays in sync), and exactly as long as the movie (an
    audio rendition is its own playlist, which must last as long as the video's)."""
    return [
        *FFMPEG, *SAFE_INPUT, "-i", str(source), "-map", f"0:{track.index}", "-vn",
        "-af", f"aresample=48000:async=1:min_hard_comp=0.02:first_pts=0,apad=whole_dur={duration:.3f}",
        "-t", f"{duration:.3f}",
        "-c:a", "aac", "-profile:a", "aac_low", "-ac", "2", "-b:a", f"{options.audio_kbps}k", str(target),
    ]  # fmt: skip
