"""Each text subtitle track of the source written as WebVTT segments on the video's grid."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from hls_operators.core import layout, package_commands, probe_commands
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import MovieJob
from hls_operators.core.layout import SUBTITLE_SEGMENT_PATTERN
from hls_operators.core.playlists import parse_map_uri, parse_media_playlist, parse_target_duration
from hls_operators.core.probe import MediaTrack
from hls_operators.core.subtitles import MPEGTS_CLOCK, check_cues, parse_webvtt, segment_webvtt, subtitle_playlist
from hls_operators.edges.ffmpeg import FfmpegUsage, run_ffmpeg, run_ffprobe


def write_subtitle_rendition(
    job: MovieJob,
    number: int,
    track: MediaTrack,
    source: Path,
    out: Path,
    scratch: Path,
    log: logging.Logger,
    memory_limit_bytes: int,
) -> FfmpegUsage:
    """Subtitle track ``number`` as WebVTT segments on the top rung's grid, tied to its timestamps."""
    whole = scratch / f"{layout.subtitle_rendition(number)}.vtt"
    usage = run_ffmpeg(
        package_commands.subtitle_args(source, track, whole),
        label=f"movie {job.movie_id} subtitle track {number + 1}",
        timeout=600,
        memory_limit_bytes=memory_limit_bytes,
        log=log,
    )
    top = out / job.top_rung.name
    playlist = (top / layout.MEDIA_PLAYLIST).read_text()
    segments = parse_media_playlist(playlist)
    started = run_ffprobe(probe_commands.start_time_args(segments[0].uri, parse_map_uri(playlist)), cwd=top)
    if started.returncode != 0:
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, f"cannot read the start of {top.name}: {started.stderr}")
    mpegts_start = round(float(started.stdout.strip()) * MPEGTS_CLOCK)
    folder = out / layout.subtitle_rendition(number)
    folder.mkdir()
    durations = [segment.duration for segment in segments]
    cues = parse_webvtt(whole.read_text())
    needed = check_cues(cues, durations, mpegts_start, f"subtitle track {number + 1}")
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise MigrationError(
            ErrorClass.DISK_FULL,
            f"subtitle track {number + 1} needs {needed / 1e6:.1f} MB, {free / 1e6:.1f} MB are free",
        )
    for index, text in enumerate(segment_webvtt(cues, durations, mpegts_start)):
        (folder / (SUBTITLE_SEGMENT_PATTERN % index)).write_text(text)
    (folder / layout.MEDIA_PLAYLIST).write_text(subtitle_playlist(durations, parse_target_duration(playlist)))
    return usage
