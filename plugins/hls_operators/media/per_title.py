"""The per-title complexity probe, on a local source: a few windows of the movie encoded at a few
rates per rung in one ffmpeg process each, scored with VMAF, and each rung's rate chosen from
those points (``core/per_title.py`` says how)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from hls_operators.core import commands
from hls_operators.core.ladder import Rung
from hls_operators.core.per_title import (
    SamplePoint,
    choose_rates,
    drop_redundant,
    sample_windows,
    second_rates,
)
from hls_operators.core.probe import ProbeResult
from hls_operators.core.quality_commands import vmaf_args
from hls_operators.core.video_codecs import H264
from hls_operators.edges.ffmpeg import run_ffmpeg
from hls_operators.settings import Settings

# Each libvmaf instance holds frames of the source's size: four at a time stay within the memory
# limit of one transcode at 1080p.
VMAF_PER_PROCESS = 4


def vmaf_ffmpeg() -> str:
    """An ffmpeg with libvmaf: the one the imageio-ffmpeg wheel ships (Debian's has no libvmaf)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def per_title_ladder(
    source: Path, probe: ProbeResult, ladder: list[Rung], settings: Settings, log: logging.Logger
) -> tuple[list[Rung], dict[str, str]]:
    """``ladder`` with each encoded H.264 rung at its per-title rate, less the rungs a viewer could
    not tell from a cheaper one (returned by name, with the reason). A copied rung keeps the
    source's stream; an HDR source keeps the fixed ladder (its rungs are scored after tone mapping,
    which the scoring ffmpeg cannot do)."""
    encoded = [rung for rung in ladder if not rung.source_copy and rung.codec == H264.name]
    if probe.hdr or not encoded:
        return ladder, {}
    top = ladder[0] if ladder[0] in encoded else None  # a copied top rung is the source's: it never rises
    target, ceiling = settings.per_title_quality, settings.per_title_ceiling
    with tempfile.TemporaryDirectory(prefix="per-title-", dir=settings.work_dir) as work:
        first = {rung.name: [rung.video_kbps] for rung in encoded}
        points = _sample(source, probe, encoded, first, settings, Path(work) / "first", log)
        second = second_rates(encoded, points, target=target, ceiling=ceiling, top=top)
        if second:
            again = [rung for rung in encoded if rung.name in second]
            for name, more in _sample(source, probe, again, second, settings, Path(work) / "second", log).items():
                points[name] += more
    choices = choose_rates(encoded, points, target=target, ceiling=ceiling, top=top)
    kept, dropped = drop_redundant(choices)
    chosen = {choice.rung.name: choice.rung for choice in kept}
    for choice in choices:
        log.info(
            "per title: %s at %d kbit/s, VMAF %.1f expected", choice.rung.name, choice.rung.video_kbps, choice.quality
        )
    for name, reason in dropped.items():
        log.info("per title: %s dropped, %s", name, reason)
    return [chosen.get(rung.name, rung) for rung in ladder if rung.name not in dropped], dropped


def _sample(
    source: Path,
    probe: ProbeResult,
    encoded: list[Rung],
    rates: dict[str, list[int]],
    settings: Settings,
    work: Path,
    log: logging.Logger,
) -> dict[str, list[SamplePoint]]:
    """Each rung's (rate, VMAF) points over the sample windows: each window encoded once at every
    rate of every rung (one decode), then scored ``VMAF_PER_PROCESS`` samples to a process."""
    variants = {
        (rung.name, kbps): replace(rung, name=f"{rung.name}_{kbps}k", video_kbps=kbps)
        for rung in encoded
        for kbps in rates[rung.name]
    }
    options = replace(settings.encoding, crf=None)  # sampled as the rungs will be encoded: at a bitrate
    windows = sample_windows(probe.duration, settings.per_title_samples, settings.per_title_sample_seconds)
    scores: dict[tuple[str, int], list[float]] = {key: [] for key in variants}
    for window in windows:
        out = work / f"per_title_{window.index}"
        for variant in variants.values():
            (out / variant.name).mkdir(parents=True)
        seconds = (probe.duration if window.end is None else window.end) - window.start
        run_ffmpeg(
            commands.encode_chunk_args(source, out, probe, list(variants.values()), options, window),
            label=f"per-title samples {window.index + 1}/{len(windows)} ({len(variants)} rung rates)",
            total_seconds=seconds,
            timeout=settings.transcode_timeout(seconds * len(variants)),
            memory_limit_bytes=settings.transcode_memory_limit_bytes,
            log=log,
        )
        samples = [(out / v.name / commands.CHUNK_VIDEO, out / v.name / "vmaf.json") for v in variants.values()]
        for start in range(0, len(samples), VMAF_PER_PROCESS):
            batch = samples[start : start + VMAF_PER_PROCESS]
            run_ffmpeg(
                vmaf_args(vmaf_ffmpeg(), source, probe, window, batch, threads=os.cpu_count() or 1),
                label=f"per-title scores {window.index + 1}/{len(windows)}",
                timeout=settings.transcode_timeout(seconds * len(batch)),
                memory_limit_bytes=settings.transcode_memory_limit_bytes,
                log=log,
            )
        for key, (_, score_log) in zip(variants, samples):
            scores[key].append(json.loads(score_log.read_text())["pooled_metrics"]["vmaf"]["mean"])
    return {
        rung.name: [SamplePoint(kbps, sum(scores[rung.name, kbps]) / len(windows)) for kbps in rates[rung.name]]
        for rung in encoded
    }
