"""The command that scores encoded samples against the source with VMAF, for the per-title probe
(``core/per_title.py``). It runs an ffmpeg built with libvmaf, which Debian's is not: the caller
names the executable."""

from __future__ import annotations

from pathlib import Path

from hls_operators.core.chunks import Chunk
from hls_operators.core.commands import QUIET, SAFE_INPUT, source_filters
from hls_operators.core.probe import ProbeResult

# VMAF on every third frame: within a few tenths of a point of every frame on the bench's sources,
# at a third of the cost.
VMAF_SUBSAMPLE = 3


def vmaf_args(
    ffmpeg: str, source: Path, probe: ProbeResult, window: Chunk, samples: list[tuple[Path, Path]], threads: int
) -> list[str]:
    """One process scores every ``(video, log)`` sample of ``window`` against the source's frames of
    that window (decoded, deinterlaced and on the frame grid as the encode saw them), each sample
    scaled bicubic to the source's size; VMAF v0.6.1's pooled scores go to each JSON ``log``."""
    args = [ffmpeg, *QUIET, "-nostdin"]
    if window.seek:
        args += ["-ss", str(window.seek), "-copyts", "-start_at_zero"]  # as the encode seeked
    args += [*SAFE_INPUT, "-i", str(source)]
    for video, _ in samples:
        args += ["-i", str(video)]
    references = "".join(f"[ref{n}]" for n in range(len(samples)))
    reference = ",".join([*source_filters(probe, window), "setpts=PTS-STARTPTS", "format=yuv420p"])
    graph = [f"[0:{probe.video_index}]{reference},split={len(samples)}{references}"]
    for n, (_, log) in enumerate(samples):
        graph.append(
            f"[{n + 1}:v]setpts=PTS-STARTPTS,scale={probe.width}:{probe.height}:flags=bicubic,format=yuv420p[dist{n}];"
            f"[dist{n}][ref{n}]libvmaf=n_subsample={VMAF_SUBSAMPLE}:n_threads={threads}:log_fmt=json:log_path={log}[scored{n}]"
        )
    maps = [arg for n in range(len(samples)) for arg in ("-map", f"[scored{n}]")]
    return [*args, "-filter_complex", ";".join(graph), *maps, "-f", "null", "-"]
