"""ffmpeg command lines that package encoded renditions into HLS: the stitch of every rung's chunks
and the audio into segments on one timeline, and the subtitle tracks as WebVTT.

Built as argument lists from typed inputs, apart from running them (``edges/ffmpeg.py``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hls_operators.core.commands import FFMPEG, SAFE_INPUT, EncodingOptions
from hls_operators.core.ladder import Rung
from hls_operators.core.layout import INIT_SECTION, MEDIA_PLAYLIST, SEGMENT_FORMATS, audio_rendition
from hls_operators.core.probe import MediaTrack, ProbeResult
from hls_operators.core.video_codecs import VIDEO_CODECS


def stitch_args(
    out_dir: Path,
    probe: ProbeResult,
    rungs: list[Rung],
    options: EncodingOptions,
    *,
    concat_lists: dict[str, Path],
    source: Path | None,
    audios: list[Path],
) -> list[str]:
    """One ffmpeg process that only copies: each encoded rung's chunks laid end to end (ffconcat
    lists in ``concat_lists``) and a ``source_copy`` rung's video from the ``source``, each cut into
    its video-only HLS folder, and each encoded audio track into its own audio rendition's folder.
    One HLS output holds them all (``-var_stream_map``): every rendition is cut on the same grid
    and shares one timeline, where separate outputs would each shift their own timestamps (the
    video by its B-frame delay, the audio not: 80 ms out of sync at 25 fps)."""
    args = [*FFMPEG, "-progress", "pipe:1", "-nostats"]
    inputs = {name: index for index, name in enumerate(concat_lists)}
    for listing in concat_lists.values():
        # The lists are ours and name relative files only: the concat demuxer's safe mode holds.
        args += ["-protocol_whitelist", "file", "-f", "concat", "-i", str(listing)]
    source_input = len(inputs)
    if source is not None:
        args += [*SAFE_INPUT, "-i", str(source)]
    first_audio = source_input + (1 if source is not None else 0)
    for audio in audios:
        args += ["-protocol_whitelist", "file", "-i", str(audio)]
    for rung in rungs:
        args += ["-map", f"{source_input}:{probe.video_index}" if rung.source_copy else f"{inputs[rung.name]}:v:0"]
    for number in range(len(audios)):
        args += ["-map", f"{first_audio + number}:a:0"]
    for i, rung in enumerate(rungs):
        if sample_entry := VIDEO_CODECS[rung.codec].sample_entry:
            args += [f"-tag:v:{i}", sample_entry]  # kept through the copy: Apple's players take no other
    streams = [f"v:{i},name:{rung.name}" for i, rung in enumerate(rungs)]
    streams += [f"a:{number},name:{audio_rendition(number)}" for number in range(len(audios))]
    segment_type, pattern = SEGMENT_FORMATS[options.segment_format]
    args += [
        "-c", "copy",
        "-f", "hls",
        "-hls_time", str(options.segment_seconds),
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_type", segment_type,
        *(["-hls_fmp4_init_filename", INIT_SECTION] if segment_type == "fmp4" else []),
        "-var_stream_map", " ".join(streams),
        "-hls_segment_filename", str(out_dir / "%v" / pattern),
        str(out_dir / "%v" / MEDIA_PLAYLIST),
    ]  # fmt: skip
    return args


def subtitle_args(source: Path, track: MediaTrack, target: Path) -> list[str]:
    """A text subtitle track as one WebVTT file, cue times from the movie's start."""
    return [
        *FFMPEG,
        *SAFE_INPUT,
        "-i",
        str(source),
        "-map",
        f"0:{track.index}",
        "-c:s",
        "webvtt",
        "-f",
        "webvtt",
        str(target),
    ]


def concat_list(files: list[tuple[str, Fraction | None]]) -> str:
    """An ffconcat list of (relative file name, duration) in order. The duration, exact for a whole
    number of frames, is where the next file starts: the container's own rounded duration would
    shift every later chunk by a fraction of a frame."""
    lines = ["ffconcat version 1.0"]
    for name, duration in files:
        lines.append(f"file {name}")
        if duration is not None:
            lines.append(f"duration {float(duration):.6f}")
    return "\n".join(lines) + "\n"
