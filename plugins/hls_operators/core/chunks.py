"""Splitting one movie's timeline into chunks that separate tasks encode, as pure functions.

Chunks start on the segment grid, so every join falls on a segment boundary, where each rung has a
keyframe anyway. Their limits are frame numbers of the constant output frame rate (frame ``n``
shows at ``n / fps``): each frame belongs to exactly one chunk, so the stitched rungs have no gap
and no overlap, whatever the frame rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

# A chunk's decode starts this long before its first frame, so that the frame-rate conversion and
# the deinterlacer are past their start-up when the chunk's first frame comes.
SEEK_MARGIN_SECONDS = 2
# A last piece shorter than this joins the chunk before it rather than making a chunk of a few frames.
SHORTEST_LAST_CHUNK_SECONDS = 1.0


@dataclass(frozen=True)
class Chunk:
    """Seconds ``start`` (on the segment grid) up to ``end`` of the movie; ``end`` None: to its end."""

    index: int
    start: int
    end: int | None

    def first_frame(self, fps: Fraction) -> int:
        return math.ceil(self.start * fps)

    def end_frame(self, fps: Fraction) -> int | None:
        """The first frame of the next chunk (None for the last chunk)."""
        return None if self.end is None else math.ceil(self.end * fps)

    @property
    def seek(self) -> int:
        return max(0, self.start - SEEK_MARGIN_SECONDS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**data)


def plan_chunks(duration: float, *, chunk_seconds: int, segment_seconds: int, slots: int | None) -> list[Chunk]:
    """One chunk for a movie up to ``chunk_seconds`` long; a longer one gets a chunk per
    ``chunk_seconds`` (at most ``slots``, the chunk tasks a DAG with fixed ones has; None: no
    ceiling, one mapped task per chunk). The movie's whole segments are shared out as evenly as
    they go (60 s of 6 s segments in 4 chunks: 3, 3, 2, 2), so that no worker waits on one long
    chunk while another has finished a short one."""
    wanted = max(1, math.ceil(duration / chunk_seconds))
    if slots is not None:
        wanted = min(slots, wanted)
    segments = max(1, math.ceil((duration - SHORTEST_LAST_CHUNK_SECONDS) / segment_seconds))
    count = min(wanted, segments)
    share, larger = divmod(segments, count)
    starts = [0]
    for index in range(count - 1):
        starts.append(starts[-1] + (share + (index < larger)) * segment_seconds)
    return [Chunk(i, start, starts[i + 1] if i < count - 1 else None) for i, start in enumerate(starts)]


def first_tile(first_frame: int, frames_per_tile: Fraction) -> int:
    """The first storyboard tile that a chunk starting at ``first_frame`` shows: tile ``k`` is
    frame ``ceil(k * frames_per_tile)``, so each tile comes from exactly one chunk."""
    if first_frame <= 0:
        return 0
    return math.floor((first_frame - 1) / frames_per_tile) + 1
