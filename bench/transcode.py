"""Transcode benchmark: the seed's ffmpeg command against the pipeline's transcode step, in one run.

    make bench                       # 60 s synthetic 1080p source plus the CC0 clips
    python -m bench.transcode --seconds 10 --sources synthetic

For each source, the variants run one after the other on the same machine, ``--repeat`` times in
turn (seed, pipeline, seed, pipeline, ...): this machine's speed drifts by 10 to 20 % over minutes,
and a pipeline run compared with the seed run of its own round cancels most of that drift. Every
figure is the median run's, also given as a ratio to the baseline's; the speed ratio within each
round is printed too. Quality is VMAF (libvmaf from the ffmpeg that PyPI's imageio-ffmpeg ships, as the per-title probe uses;
Debian's ffmpeg has none) of each rung, upscaled to the source's size, against the source. Prints a
table and writes ``bench/results/transcode-<time>.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devenv import media
from hls_operators.core.ladder import MAXRATE_FACTOR
from hls_operators.core.layout import MEDIA_PLAYLIST
from hls_operators.core.playlists import parse_map_uri, parse_media_playlist
from hls_operators.core.quality_commands import VMAF_SUBSAMPLE
from hls_operators.core.step_graph import steps_through
from hls_operators.edges.ffmpeg import FfmpegUsage
from hls_operators.edges.handoff import pack
from hls_operators.media.per_title import vmaf_ffmpeg
from hls_operators.media.probing import plan_movie, probe_file
from hls_operators.media.transcoding import audio_files, encode_audio_files, encode_chunk_files, package_renditions
from hls_operators.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"

# The seed's command, as its description gives it: three fixed rungs (scaled to 1080p, 720p and
# 480p whatever the source), preset medium, a 2 s GOP, and the audio encoded once per rung.
SEED_RUNGS = [("1080p", 1920, 1080, 5000), ("720p", 1280, 720, 2800), ("480p", 854, 480, 1400)]


def seed_command(source: Path, out: Path) -> list[str]:
    split = "split=3" + "".join(f"[v{i}]" for i in range(3))
    graph = [f"[0:v]{split}"] + [f"[v{i}]scale=w={w}:h={h}[v{i}out]" for i, (_, w, h, _) in enumerate(SEED_RUNGS)]
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-filter_complex", ";".join(graph)]
    for i, (_, _, _, kbps) in enumerate(SEED_RUNGS):
        args += [
            "-map", f"[v{i}out]", f"-c:v:{i}", "libx264", f"-b:v:{i}", f"{kbps}k",
            f"-maxrate:v:{i}", f"{round(kbps * 1.07)}k", f"-bufsize:v:{i}", f"{round(kbps * 1.5)}k",
            "-preset", "medium", "-g", "48", "-sc_threshold", "0", "-keyint_min", "48",
        ]  # fmt: skip
    for i in range(3):
        args += ["-map", "a:0", f"-c:a:{i}", "aac", f"-b:a:{i}", "128k", "-ac", "2"]
    args += [
        "-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_flags", "independent_segments",
        "-hls_segment_type", "mpegts", "-hls_segment_filename", str(out / "%v" / "seg_%03d.ts"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(f"v:{i},a:{i},name:{n}" for i, (n, *_) in enumerate(SEED_RUNGS)),
        str(out / "%v" / "index.m3u8"),
    ]  # fmt: skip
    return args


@dataclass
class Usage:
    wall: float = 0.0
    cpu: float = 0.0
    max_rss: int = 0  # bytes, of the largest process

    def add(self, other: Usage) -> None:
        self.wall += other.wall
        self.cpu += other.cpu
        self.max_rss = max(self.max_rss, other.max_rss)


def measured(args: list[str], cwd: Path | None = None) -> Usage:
    """Run a command; its own wall time, CPU time and peak RSS (``wait4`` on that one process)."""
    started = time.monotonic()
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, rusage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{args[0]} exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
    return Usage(time.monotonic() - started, rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss * 1024)


@dataclass
class Result:
    variant: str
    source: str
    source_seconds: float
    usage: Usage
    temp_bytes: int
    rungs: dict[str, dict] = field(default_factory=dict)  # name -> {height, kbps, bytes, vmaf}
    audio_bytes: int = 0  # the audio renditions, stored once beside the rungs
    repeats: list[Usage] = field(default_factory=list)  # every run of this variant, in order

    def settle(self) -> None:
        """Report the run of median wall time (the lower middle one of an even count)."""
        self.usage = sorted(self.repeats, key=lambda usage: usage.wall)[(len(self.repeats) - 1) // 2]

    @property
    def realtime(self) -> float:
        return self.source_seconds / self.usage.wall

    @property
    def cpu_per_source_minute(self) -> float:
        return self.usage.cpu / (self.source_seconds / 60)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def peak_kbps(rung_dir: Path) -> float:
    """The rung's video peak as RFC 8216's BANDWIDTH counts it: its largest segment's bit rate."""
    segments = parse_media_playlist((rung_dir / MEDIA_PLAYLIST).read_text())
    return max((rung_dir / s.uri).stat().st_size * 8 / 1000 / s.duration for s in segments if s.duration > 0)


def rung_bytes(rung_dir: Path) -> int:
    """A rendition's stored media: its segments and (fMP4) its init section."""
    playlist = (rung_dir / MEDIA_PLAYLIST).read_text()
    files = [s.uri for s in parse_media_playlist(playlist)] + [uri for uri in [parse_map_uri(playlist)] if uri]
    return sum((rung_dir / name).stat().st_size for name in files)


def run_seed(source: Path, duration: float, work: Path) -> Result:
    out = work / "seed"
    usage = measured(seed_command(source, out))
    rungs = {
        name: {"height": h, "kbps": kbps, "bytes": rung_bytes(out / name), "dir": str(out / name)}
        for name, _, h, kbps in SEED_RUNGS
    }
    return Result("seed command (baseline)", source.name, duration, usage, folder_bytes(out), rungs)


def x264_variant(variant: str) -> dict[str, str]:
    """``PRESET/X264_PARAMS`` (``medium/``: the plain preset) as settings."""
    preset, _, params = variant.partition("/")
    return {"x264_preset": preset, "x264_params": params}


def run_pipeline(
    source: Path, duration: float, work: Path, overrides: dict[str, str] | None = None, label: str = ""
) -> Result:
    """The probe, chunk encode, audio and package steps' media work as shipped (``hls_operators.media``),
    in the DAG's order, minus their storage hand-offs: the ladder plan (with the copy decision), the
    chunks, the audio encoded once, the stitch, the I-frame indexes, the storyboard and the hand-off
    tar, with the default settings or these ``overrides``."""
    settings = Settings.from_values({"bucket": "bench", "public_base_url": "http://bench.invalid", **(overrides or {})})
    log = logging.getLogger("bench")
    root = work / "pipeline"
    chunks_dir, out = root / "chunks", root / "renditions"
    usage = Usage()
    cpu_before, started = steps_cpu(), time.monotonic()
    job = plan_movie(
        source, movie_id=1, source_url=str(source), expected_url=str(source), version="bench", settings=settings
    )
    ffmpeg = FfmpegUsage()
    for step in steps_through("package")[1:]:  # the job is the probe's
        if step == "encode":
            for chunk in job.chunks:
                ffmpeg += encode_chunk_files(
                    source, job, chunk.index, chunks_dir / str(chunk.index), settings=settings, log=log
                )
        elif step == "audio":
            ffmpeg += encode_audio_files(source, job, root / "audio", settings=settings, log=log)
        elif step == "package":
            renditions, packaging = package_renditions(
                job, chunks_dir, audio_files(job, root / "audio"), source, out, settings=settings, log=log
            )
    with open(os.devnull, "wb") as upload:  # the hand-off tar streams into its upload: no disk
        pack(out, upload)
    usage.add(Usage(time.monotonic() - started, steps_cpu() - cpu_before, (ffmpeg + packaging).max_rss_bytes))
    # What a viewer of a rung downloads: its video and the audio rendition beside it (the seed's
    # rungs carry their audio inside).
    audio = sum(rung_bytes(out / a.name) for a in renditions.audio[:1])
    rungs = {
        r.name: {
            "height": r.height,
            "kbps": r.video_kbps,
            "bytes": rung_bytes(out / r.name) + audio,
            "video_bytes": rung_bytes(out / r.name),
            "dir": str(out / r.name),
            "copied": r.source_copy,
            "peak_kbps": peak_kbps(out / r.name),
            "cap_kbps": round(r.video_kbps * MAXRATE_FACTOR),
        }
        for r in (video.rung for video in renditions.video)
    }
    label = label or f"pipeline {settings.x264_preset}/{settings.x264_params}"
    audio_bytes = sum(rung_bytes(out / a.name) for a in renditions.audio)
    return Result(label, source.name, duration, usage, folder_bytes(root), rungs, audio_bytes)


def steps_cpu() -> float:
    """CPU time of this process and its finished children (every ffmpeg and ffprobe of the run)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def vmaf(ffmpeg9: str, rung_dir: Path, source: Path, width: int, height: int, log_path: Path) -> float:
    graph = (
        f"[0:v]setpts=PTS-STARTPTS,scale={width}:{height}:flags=bicubic,format=yuv420p[distorted];"
        f"[1:v]setpts=PTS-STARTPTS,format=yuv420p[reference];"
        f"[distorted][reference]libvmaf=n_subsample={VMAF_SUBSAMPLE}:n_threads={os.cpu_count()}:log_fmt=json:log_path={log_path}"
    )
    subprocess.run(
        [ffmpeg9, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(rung_dir / MEDIA_PLAYLIST), "-i", str(source),
         "-filter_complex", graph, "-f", "null", "-"], check=True,
    )  # fmt: skip
    return json.loads(log_path.read_text())["pooled_metrics"]["vmaf"]["mean"]


def synthetic_source(folder: Path, seconds: int) -> Path:
    """1080p30 testsrc2 with temporal noise (so that it is not trivially easy to encode) and a tone,
    delivered the way a platform's mezzanine often is: H.264 High 4:2:0, a closed 2 s GOP and a
    capped 4.5 Mbit/s, which the pipeline may publish as its 1080p rung without re-encoding."""
    path = folder / f"synthetic-1080p-{seconds}s.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=12:allf=t",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
         "-b:v", "4500k", "-maxrate", "5000k", "-bufsize", "10000k", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path)], check=True,
    )  # fmt: skip
    return path


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def pair_ratios(result: Result, baseline: Result) -> list[float]:
    """Speed against the baseline run of the same round, one per round."""
    return [seed.wall / run.wall for seed, run in zip(baseline.repeats, result.repeats)]


def report(results: list[Result]) -> None:
    header = (
        f"{'source':<26} {'variant':<48} {'x realtime':>14} {'CPU s/src min':>16} {'peak RSS MB':>16} {'temp MB':>12}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for source in dict.fromkeys(r.source for r in results):
        baseline, *others = [r for r in results if r.source == source]
        for r in [baseline, *others]:
            print(
                f"{source:<26} {r.variant:<48} {r.realtime:>7.2f} {ratio(r.realtime, baseline.realtime):>6} "
                f"{r.cpu_per_source_minute:>9.0f} {ratio(r.cpu_per_source_minute, baseline.cpu_per_source_minute):>6} "
                f"{r.usage.max_rss / 1e6:>9.0f} {ratio(r.usage.max_rss, baseline.usage.max_rss):>6} "
                f"{r.temp_bytes / 1e6:>6.0f} {ratio(r.temp_bytes, baseline.temp_bytes):>5}"
            )
            if r is not baseline and len(r.repeats) > 1:
                pairs = ", ".join(f"{value:.2f}x" for value in pair_ratios(r, baseline))
                print(f"{'':<26} {'  speed against the seed, each round:':<48} {pairs}")
        print(f"{'':<26} per rung: {'rung':<6} {'variant':<48} {'kbit/s':>8} {'VMAF':>6} {'vs baseline':>12}")
        for r in [baseline, *others]:
            for name, rung in r.rungs.items():
                same = baseline.rungs.get(name)
                delta = (
                    f"{rung['vmaf'] - same['vmaf']:+.2f}"
                    if same and rung.get("vmaf") is not None and same.get("vmaf") is not None
                    else ""
                )
                kbps = rung["bytes"] * 8 / r.source_seconds / 1000
                vmaf_text = f"{rung['vmaf']:.2f}" if rung.get("vmaf") is not None else "-"
                copied = " (copied)" if rung.get("copied") else ""
                print(f"{'':<36} {name:<6} {r.variant:<48} {kbps:>8.0f} {vmaf_text:>6} {delta:>12}{copied}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the synthetic source")
    parser.add_argument("--sources", default="synthetic,flower.mp4,friday.mp4", help="synthetic and/or CC0 clip names")
    parser.add_argument("--no-vmaf", action="store_true", help="skip the quality measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every variant, taken in turn")
    parser.add_argument(
        "--variants", default="", help="more x264 PRESET/PARAMS to run the pipeline with, e.g. medium/,faster/"
    )
    args = parser.parse_args()
    ffmpeg9 = None
    if not args.no_vmaf:
        ffmpeg9 = vmaf_ffmpeg()

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hls-bench-") as scratch:
        scratch_dir = Path(scratch)
        for name in args.sources.split(","):
            source = synthetic_source(scratch_dir, args.seconds) if name == "synthetic" else media.CC0_CLIPS[name]
            probe = probe_file(source)
            print(f"{name}: {probe.width}x{probe.height} {probe.frame_rate} fps, {probe.duration:.1f} s", flush=True)
            runners = [run_seed, run_pipeline] + [
                functools.partial(run_pipeline, overrides=x264_variant(variant))
                for variant in filter(None, args.variants.split(","))
            ]
            source_results: list[Result] = []
            for repeat in range(args.repeat):
                for index, runner in enumerate(runners):
                    work = scratch_dir / f"{source.stem}-{index}-{repeat}"
                    work.mkdir()
                    run = runner(source, probe.duration, work)
                    print(f"  {run.variant}: {run.usage.wall:.1f} s wall, {run.usage.cpu:.1f} CPU-s", flush=True)
                    if repeat == 0:  # the output is the same in every repetition: score it once
                        if ffmpeg9:
                            for rung_name, rung in run.rungs.items():
                                rung["vmaf"] = vmaf(
                                    ffmpeg9,
                                    Path(rung["dir"]),
                                    source,
                                    probe.width,
                                    probe.height,
                                    work / f"vmaf-{rung_name}.json",
                                )
                        for rung in run.rungs.values():
                            rung.pop("dir")
                        source_results.append(run)
                    source_results[index].repeats.append(run.usage)
                    shutil.rmtree(work)
            for result in source_results:
                result.settle()
            results += source_results
    report(results)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"transcode-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    machine = {"cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
    payload = {
        "machine": machine,
        "results": [
            {**asdict(r), "realtime": r.realtime, "cpu_per_source_minute": r.cpu_per_source_minute} for r in results
        ],
    }
    target.write_text(json.dumps(payload, indent=2))
    print(f"\nwritten: {target}")


if __name__ == "__main__":
    main()
