"""ffmpeg command lines for the pictures beside the video: thumbnails, the contact sheet and the
storyboard's tile sheets, and where the thumbnails are taken.

Built as argument lists from typed inputs, apart from running them (``edges/ffmpeg.py``).
"""

from __future__ import annotations

import math
from pathlib import Path

from hls_operators.core.commands import FFMPEG, SAFE_INPUT, TONE_MAP_TO_SDR
from hls_operators.core.layout import STORYBOARD_SHEET_PATTERN, THUMBNAIL_PATTERN
from hls_operators.core.probe import ProbeResult
from hls_operators.core.trickplay import STORYBOARD_TILE_PATTERN, StoryboardPlan


def thumbnail_times(duration: float, count: int, fps: float, video_end: float | None = None) -> list[float]:
    """Evenly spaced instants, each in the middle of its share of the movie (never 0 s: often
    black), and never past the last frames (the video's, where it stops before the audio), where a
    seek finds nothing to decode."""
    last = max(0.0, min(duration, video_end or duration) - 2 / fps)
    return [min(duration * (i + 0.5) / count, last) for i in range(count)]


def thumbnail_size(probe: ProbeResult, max_width: int) -> tuple[int, int]:
    """At most ``max_width`` wide, never upscaled, even height."""
    width = min(max_width, probe.width - probe.width % 2)
    height = max(2, round(probe.height * width / probe.width / 2) * 2)
    return width, height


def thumbnail_args(
    source: Path, target: Path, probe: ProbeResult, at_seconds: float, size: tuple[int, int]
) -> list[str]:
    # -ss before -i seeks by index: a thumbnail costs one GOP of decoding, not the movie up to it.
    return [
        *FFMPEG, "-ss", f"{at_seconds:.3f}", *SAFE_INPUT, "-i", str(source),
        "-map", f"0:{probe.video_index}", "-frames:v", "1",
        "-vf", (f"{TONE_MAP_TO_SDR}," if probe.hdr else "") + f"scale={size[0]}:{size[1]}:flags=bicubic,setsar=1,format=yuvj420p",
        "-q:v", "3", str(target),
    ]  # fmt: skip


def tile_sheet_args(pattern: Path, target: Path, *, start: int, columns: int, rows: int, spacing: int = 0) -> list[str]:
    """One JPEG of ``columns`` x ``rows`` numbered images from ``start`` on; a short last row stays blank."""
    return [
        *FFMPEG, "-protocol_whitelist", "file", "-f", "image2", "-framerate", "1",
        "-start_number", str(start), "-i", str(pattern),
        "-vf", f"tile={columns}x{rows}:padding={spacing}:margin={spacing}", "-frames:v", "1", "-q:v", "3", str(target),
    ]  # fmt: skip


def storyboard_sheet_args(plan: StoryboardPlan, sheet: int, tiles: int, tiles_dir: Path, out: Path) -> list[str]:
    """Storyboard sheet number ``sheet`` of ``tiles`` numbered tiles in ``tiles_dir``, into ``out``."""
    start = sheet * plan.tiles_per_sheet
    columns, rows = plan.sheet_grid(min(plan.tiles_per_sheet, tiles - start))
    pattern = tiles_dir / STORYBOARD_TILE_PATTERN
    return tile_sheet_args(pattern, out / (STORYBOARD_SHEET_PATTERN % sheet), start=start, columns=columns, rows=rows)


def contact_sheet_args(thumb_dir: Path, count: int, target: Path) -> list[str]:
    columns = min(5, count)
    rows = math.ceil(count / columns)
    return tile_sheet_args(thumb_dir / THUMBNAIL_PATTERN, target, start=0, columns=columns, rows=rows, spacing=4)
