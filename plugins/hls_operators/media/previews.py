"""What players show besides the video, made from local files: I-frame playlists (trick play),
storyboard sheets (seek previews) and thumbnails."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from hls_operators.core import image_commands, layout, probe_commands
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import MovieJob
from hls_operators.core.layout import IFRAME_PLAYLIST, STORYBOARD_VTT
from hls_operators.core.playlists import parse_map_uri, parse_media_playlist
from hls_operators.core.trickplay import (
    STORYBOARD_TILE_PATTERN,
    StoryboardPlan,
    VideoPacket,
    locate_iframes,
    moof_offset,
    storyboard_cues,
    write_iframe_playlist,
    write_storyboard_vtt,
)
from hls_operators.edges.ffmpeg import run_ffmpeg, run_ffprobe

# Segments per ffprobe call when indexing keyframes: keeps the concat: argument well under the
# kernel's 128 KiB limit for one argument, whatever the movie's length.
KEYFRAME_INDEX_BATCH = 2000
# An fMP4 segment's boxes before its moof (styp, sidx) fit well within this.
FRAGMENT_HEAD_BYTES = 4096


def _video_packets(rung_dir: Path, segments: list[tuple[str, int]], init: str | None) -> list[VideoPacket]:
    """Every video packet of the segments, positions counted from the first byte of the first."""
    packets: list[VideoPacket] = []
    init_size = (rung_dir / init).stat().st_size if init else 0
    base = 0
    for start in range(0, len(segments), KEYFRAME_INDEX_BATCH):
        batch = segments[start : start + KEYFRAME_INDEX_BATCH]
        completed = run_ffprobe(
            probe_commands.keyframe_index_args([name for name, _ in batch], init), cwd=rung_dir, timeout=600
        )
        if completed.returncode != 0:
            raise MigrationError(
                ErrorClass.TRANSCODE_FAILED, f"cannot index keyframes of {rung_dir.name}: {completed.stderr}"
            )
        for line in completed.stdout.splitlines():
            fields = line.split(",")
            if len(fields) >= 3 and fields[0] not in ("", "N/A") and fields[1].isdigit():
                packets.append(VideoPacket(float(fields[0]), base + int(fields[1]) - init_size, "K" in fields[2]))
        base += sum(size for _, size in batch)
    return packets


def write_iframe_index(rung_dir: Path, duration: float) -> None:
    """The rung's I-frame playlist, pointing into its own segments (fMP4: with their init section)."""
    playlist = (rung_dir / layout.MEDIA_PLAYLIST).read_text()
    segments, init = parse_media_playlist(playlist), parse_map_uri(playlist)
    sizes = [(s.uri, (rung_dir / s.uri).stat().st_size) for s in segments]
    fragment_starts = None
    if init:
        fragment_starts = {}
        for uri, _ in sizes:
            with (rung_dir / uri).open("rb") as segment:
                fragment_starts[uri] = moof_offset(segment.read(FRAGMENT_HEAD_BYTES))
    iframes = locate_iframes(_video_packets(rung_dir, sizes, init), sizes, duration, fragment_starts)
    if not iframes:
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, f"{rung_dir.name} has no keyframe")
    (rung_dir / IFRAME_PLAYLIST).write_text(write_iframe_playlist(iframes, init))


def assemble_storyboard(plan: StoryboardPlan, tiles_dir: Path, out: Path, duration: float, log: logging.Logger) -> int:
    """Sheets of the tiles the transcode wrote, plus the WebVTT that maps time to tile; returns the tile count."""
    tiles = len(list(tiles_dir.glob("tile_*.jpg")))
    if tiles == 0:
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, "the transcode wrote no storyboard tile")
    if any(not (tiles_dir / (STORYBOARD_TILE_PATTERN % index)).exists() for index in range(tiles)):
        raise MigrationError(
            ErrorClass.TRANSCODE_FAILED, f"the {tiles} storyboard tiles are not numbered 0 to {tiles - 1}"
        )
    out.mkdir()
    for sheet in range(math.ceil(tiles / plan.tiles_per_sheet)):
        run_ffmpeg(
            image_commands.storyboard_sheet_args(plan, sheet, tiles, tiles_dir, out),
            label=f"storyboard sheet {sheet + 1}",
            timeout=120,
            log=log,
        )
    (out / STORYBOARD_VTT).write_text(write_storyboard_vtt(storyboard_cues(plan, tiles, duration)))
    return tiles


def make_thumbnails(
    source: Path, job: MovieJob, out: Path, *, count: int, max_width: int, timeout: float, log: logging.Logger
) -> int:
    """``count`` evenly spaced JPEG thumbnails at most ``max_width`` wide, plus a contact sheet, in
    the folder ``out``; returns how many."""
    out.mkdir(parents=True)
    size = image_commands.thumbnail_size(job.probe, max_width)
    times = image_commands.thumbnail_times(job.probe.duration, count, float(job.probe.fps), job.probe.video_end)
    for index, at in enumerate(times):
        target = out / (layout.THUMBNAIL_PATTERN % index)
        run_ffmpeg(
            image_commands.thumbnail_args(source, target, job.probe, at, size),
            label=f"movie {job.movie_id} thumbnail {index + 1}/{len(times)}",
            timeout=timeout,
            log=log,
        )
        if not target.exists():
            raise MigrationError(ErrorClass.CORRUPT, f"no frame could be decoded at {at:.2f} s")
    run_ffmpeg(
        image_commands.contact_sheet_args(out, len(times), out / layout.CONTACT_SHEET),
        label=f"movie {job.movie_id} contact sheet",
        timeout=timeout,
        log=log,
    )
    return len(times)
