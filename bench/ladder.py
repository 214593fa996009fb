"""Ladder and container benchmark, in one run, against the fixed ladder in MPEG-TS segments (the
pipeline until fMP4 became its default): the same ladder in fMP4 (CMAF) segments, the default;
the per-title ladder (``hls_rate_control`` ``quality``: each rung at constant quality under its
cap, redundant rungs dropped); preset ``medium`` at the fixed bitrates; and the fixed ladder with
HEVC rungs beside it (``hls_video_codecs`` ``h264,hevc``), each HEVC rung compared with the H.264
rung of its size.

    make bench-ladder
    python -m bench.ladder --sources animation,flower.mp4 --seconds 10 --repeat 1 --variants ts,hevc

Sources: three synthetic kinds (a still, slowly zoomed photograph with light grain, like a talking
head; flat-colour animation; high-motion noise), the first of them a minute long, and the CC0
clips. Per source and rung: kbit/s (video and the audio beside it), VMAF of the rung upscaled to the
source's size against the source, and the peak as RFC 8216's BANDWIDTH counts it against the rung's
cap; per source, stored bytes (the rungs and the audio once) and encode time against the
baseline, the variants run in turn each round. Prints a table and writes ``bench/results/ladder-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.transcode import RESULTS, Result, run_pipeline, vmaf
from devenv import media
from hls_operators.core.video_codecs import HEVC
from hls_operators.media.probing import probe_file

# Each variant: its label and the settings it changes; "ts", the baseline, always runs.
FIXED = "ts"
VARIANTS = {
    FIXED: ("fixed ladder, MPEG-TS", {"rate_control": "bitrate", "segment_format": "ts"}),
    "fmp4": ("fixed ladder, fMP4", {"rate_control": "bitrate", "segment_format": "fmp4"}),
    "per-title": ("per-title, fMP4", {"rate_control": "quality", "segment_format": "fmp4"}),
    "medium": (
        "fixed, preset medium, fMP4",
        {"rate_control": "bitrate", "segment_format": "fmp4", "x264_preset": "medium", "x264_params": ""},
    ),
    "hevc": (
        "fixed + HEVC rungs, fMP4",
        {"rate_control": "bitrate", "segment_format": "fmp4", "video_codecs": "h264,hevc"},
    ),
}
# Three kinds of 1080p30 picture: a frame of flower.mp4 held and slowly zoomed into, with light
# grain (a talking head's static shot); lavfi's flat-colour test pattern; the same under heavy noise.
SYNTHETIC = {
    "talking": "[1:v]trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB,scale=1920:1080,"
    "zoompan=z='1+0.0004*on':d=1:s=1920x1080:fps=30,noise=alls=1:allf=t[v]",
    "animation": "[1:v]null[v]",
    "motion": "[1:v]noise=alls=12:allf=t[v]",
}


def synthetic_source(kind: str, folder: Path, seconds: int) -> Path:
    """A mezzanine of ``kind``: near-lossless H.264 (CRF 14) with x264's own GOP, so that no rung
    can be the source copied and every variant encodes every rung, and a tone."""
    path = folder / f"{kind}-1080p-{seconds}s.mp4"
    picture = (
        ["-ss", "2", "-i", str(media.CC0_CLIPS["flower.mp4"])]
        if kind == "talking"
        else ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30"]
    )
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", *picture,
         "-filter_complex", SYNTHETIC[kind], "-map", "[v]", "-map", "0:a", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "14", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path)], check=True,
    )  # fmt: skip
    return path


def stored_bytes(run: Result) -> int:
    """What the variant stores: every rung's video and the audio renditions once."""
    return sum(rung["video_bytes"] for rung in run.rungs.values()) + run.audio_bytes


def report(results: list[Result], labels: list[str]) -> dict:
    """Print the per-rung and per-source tables of the variants ``labels`` (the baseline's first);
    return the totals. An HEVC rung's dVMAF is against the baseline's H.264 rung of its size."""
    fixed_label = labels[0]
    totals = {name: 0 for name in labels}
    times = {name: 0.0 for name in labels}
    print(f"\n{'source':<22} {'rung':<10} " + " ".join(f"{name:>34}" for name in labels))
    print(f"{'':<22} {'':<10} " + " ".join(f"{'kbit/s  VMAF  dVMAF peak/cap':>34}" for _ in labels))
    for source in dict.fromkeys(r.source for r in results):
        runs = {r.variant: r for r in results if r.source == source}
        fixed = runs[fixed_label]
        for rung_name in dict.fromkeys(name for r in runs.values() for name in r.rungs):
            cells = []
            for name, run in runs.items():
                rung = run.rungs.get(rung_name)
                if rung is None:
                    cells.append(f"{'dropped' if rung_name in fixed.rungs and name != fixed_label else '-':>34}")
                    continue
                kbps = rung["bytes"] * 8 / run.source_seconds / 1000
                same = fixed.rungs.get(rung_name.removesuffix(HEVC.rung_suffix))
                delta = (
                    rung["vmaf"] - same["vmaf"]
                    if same and rung.get("vmaf") is not None and same.get("vmaf") is not None
                    else None
                )
                score = f"{rung['vmaf']:.2f}" if rung.get("vmaf") is not None else "-"
                cells.append(
                    f"{kbps:>8.0f} {score:>6} {'' if delta is None else f'{delta:+.2f}':>6} "
                    f"{rung['peak_kbps']:>5.0f}/{rung['cap_kbps']:<5}"
                )
            print(f"{source:<22} {rung_name:<10} " + " ".join(cells))
        for name, run in runs.items():
            totals[name] += stored_bytes(run)
            times[name] += run.usage.wall
        print(
            f"{'':<22} {'total':<10} "
            + " ".join(
                f"{stored_bytes(runs[n]) / 1e6:>8.2f} MB {stored_bytes(runs[n]) / stored_bytes(fixed):>5.2f}x "
                f"{runs[n].usage.wall:>6.1f} s {runs[n].usage.wall / fixed.usage.wall:>5.2f}x"
                for n in runs
            )
        )
    print(
        f"\n{'all sources':<33} "
        + " ".join(
            f"{totals[n] / 1e6:>8.2f} MB {totals[n] / totals[fixed_label]:>5.2f}x {times[n]:>6.1f} s {times[n] / times[fixed_label]:>5.2f}x"
            for n in labels
        )
    )
    return {"bytes": totals, "seconds": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="talking,animation,motion,flower.mp4,friday.mp4")
    parser.add_argument("--seconds", type=int, default=20, help="length of the synthetic sources but the first")
    parser.add_argument("--long-seconds", type=int, default=60, help="length of the first synthetic source")
    parser.add_argument("--repeat", type=int, default=2, help="rounds, each running every variant in turn")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}; {FIXED} always runs")
    args = parser.parse_args()
    chosen = {key: VARIANTS[key] for key in dict.fromkeys([FIXED, *args.variants.split(",")])}
    import imageio_ffmpeg  # bench/requirements.txt: an ffmpeg with libvmaf

    ffmpeg9 = imageio_ffmpeg.get_ffmpeg_exe()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hls-bench-ladder-") as scratch:
        scratch_dir = Path(scratch)
        synthetic = [name for name in args.sources.split(",") if name in SYNTHETIC]
        for name in args.sources.split(","):
            if name in SYNTHETIC:
                seconds = args.long_seconds if name == synthetic[0] else args.seconds
                source = synthetic_source(name, scratch_dir, seconds)
            else:
                source = media.CC0_CLIPS[name]
            probe = probe_file(source)
            print(
                f"{source.name}: {probe.width}x{probe.height} {probe.frame_rate} fps, {probe.duration:.1f} s",
                flush=True,
            )
            by_variant: dict[str, Result] = {}
            for repeat in range(args.repeat):
                for index, (variant, overrides) in enumerate(chosen.values()):
                    work = scratch_dir / f"{source.stem}-{index}-{repeat}"
                    run = run_pipeline(source, probe.duration, work, overrides, label=variant)
                    print(f"  {variant}: {run.usage.wall:.1f} s wall, {run.usage.cpu:.1f} CPU-s", flush=True)
                    if repeat == 0:  # the output is the same in every round: measure it once
                        for rung_name, rung in run.rungs.items():
                            rung["vmaf"] = vmaf(
                                ffmpeg9,
                                Path(rung.pop("dir")),
                                source,
                                probe.width,
                                probe.height,
                                work / f"vmaf-{rung_name}.json",
                            )
                        by_variant[variant] = run
                    by_variant[variant].repeats.append(run.usage)
                    shutil.rmtree(work)
            for run in by_variant.values():
                run.settle()
            results += by_variant.values()
    summary = report(results, [label for label, _ in chosen.values()])
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"ladder-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    payload = {
        "summary": summary,
        "results": [
            {
                "variant": r.variant,
                "source": r.source,
                "seconds": r.source_seconds,
                "wall": r.usage.wall,
                "rounds": [u.wall for u in r.repeats],
                "rungs": r.rungs,
            }
            for r in results
        ],
    }
    target.write_text(json.dumps(payload, indent=2))
    print(f"\nwritten: {target}")


if __name__ == "__main__":
    main()
