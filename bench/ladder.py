"""The per-title ladder against the fixed one, side by side in one run (``make bench-ladder``), and
other ladder and container variants on request: capped CRF (``quality``), MPEG-TS segments,
preset ``medium``, HEVC rungs beside the H.264 ones (each compared with the H.264 rung of its size).

    make bench-ladder
    python -m bench.ladder --sources animation,flower.mp4 --seconds 10 --repeat 1 --variants per-title,hevc

Sources: four synthetic kinds (a still, slowly zoomed photograph with light grain, like a talking
head; flat-colour animation; high-motion noise; a natural moving picture with film grain), the
first of them a minute long, and the CC0 clips. Per source and rung: kbit/s (video and the audio
beside it), VMAF (v0.6.1) of the rung upscaled bicubic to the source's size against the source, and
the peak as RFC 8216's BANDWIDTH counts it against the rung's cap; per source, stored bytes (the
rungs and the audio once) and encode time (the per-title probe included) against the fixed ladder,
the variants run in turn each round; then the per-title targets, source by source. Prints the
tables and writes ``bench/results/ladder-<time>.json``.
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
from hls_operators.media.per_title import vmaf_ffmpeg
from hls_operators.media.probing import probe_file

# Each variant: its label and the settings it changes; "fixed", the baseline, always runs.
FIXED = "fixed"
VARIANTS = {
    FIXED: ("fixed ladder (bitrate)", {"rate_control": "bitrate", "segment_format": "fmp4"}),
    "per-title": ("per-title (probe)", {"rate_control": "per_title", "segment_format": "fmp4"}),
    "quality": ("capped CRF (quality)", {"rate_control": "quality", "segment_format": "fmp4"}),
    "ts": ("fixed ladder, MPEG-TS", {"rate_control": "bitrate", "segment_format": "ts"}),
    "medium": (
        "fixed, preset medium",
        {"rate_control": "bitrate", "segment_format": "fmp4", "x264_preset": "medium", "x264_params": ""},
    ),
    "hevc": (
        "fixed + HEVC rungs",
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
    # flower.mp4's moving natural picture with film-like grain: fine, temporal and uniform.
    "grain": "[1:v]loop=loop=-1:size=300,setpts=N/30/TB,scale=1920:1080:flags=bicubic,noise=c0s=10:c0f=t+u[v]",
}


def synthetic_source(kind: str, folder: Path, seconds: int) -> Path:
    """A mezzanine of ``kind``: near-lossless H.264 (CRF 14) with x264's own GOP, so that no rung
    can be the source copied and every variant encodes every rung, and a tone."""
    path = folder / f"{kind}-1080p-{seconds}s.mp4"
    picture = (
        ["-ss", "2", "-i", str(media.CC0_CLIPS["flower.mp4"])]
        if kind == "talking"
        else ["-i", str(media.CC0_CLIPS["flower.mp4"])]
        if kind == "grain"
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


def video_kbps(run: Result, rung: dict) -> float:
    """A published rung's average video bitrate over the movie."""
    return rung["video_bytes"] * 8 / run.source_seconds / 1000


def check_per_title(results: list[Result], fixed_label: str, label: str) -> list[str]:
    """The per-title targets, source by source, as lines that say FAIL where one is missed: at each
    fixed rung's average bitrate B, the best per-title rung at most 1.05 B scores at least
    min(the fixed rung's VMAF, 95) - 0.5; where the fixed top rung is below 95, the per-title top
    scores at least as much; no rung peaks over its cap."""
    lines = []
    for source in dict.fromkeys(r.source for r in results):
        runs = {r.variant: r for r in results if r.source == source}
        fixed, per_title = runs.get(fixed_label), runs.get(label)
        if fixed is None or per_title is None:
            continue
        offered = [(video_kbps(per_title, r), r["vmaf"]) for r in per_title.rungs.values()]
        for name, rung in fixed.rungs.items():
            budget = 1.05 * video_kbps(fixed, rung)
            best = max((score for kbps, score in offered if kbps <= budget), default=None)
            needed = min(rung["vmaf"], 95.0) - 0.5
            verdict = "ok" if best is not None and best >= needed else "FAIL"
            shown = "nothing" if best is None else f"{best:.2f}"
            lines.append(f"{source:<22} at {name:<6} {budget:>6.0f} kbit/s: {shown:>7} >= {needed:.2f}  {verdict}")
        fixed_top, top = next(iter(fixed.rungs.values())), max(offered, key=lambda pair: pair[0])
        if fixed_top["vmaf"] < 95:
            verdict = "ok" if top[1] >= fixed_top["vmaf"] else "FAIL"
            lines.append(
                f"{source:<22} hard title: top {top[1]:.2f} against the fixed {fixed_top['vmaf']:.2f}  {verdict}"
            )
        over = [name for name, r in per_title.rungs.items() if r["peak_kbps"] > r["cap_kbps"]]
        lines.append(f"{source:<22} peaks over their cap: {', '.join(over) or 'none'}  {'FAIL' if over else 'ok'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="talking,animation,motion,grain,flower.mp4,friday.mp4")
    parser.add_argument("--seconds", type=int, default=20, help="length of the synthetic sources but the first")
    parser.add_argument("--long-seconds", type=int, default=60, help="length of the first synthetic source")
    parser.add_argument("--repeat", type=int, default=2, help="rounds, each running every variant in turn")
    parser.add_argument("--variants", default="per-title", help=f"of {', '.join(VARIANTS)}; {FIXED} always runs")
    args = parser.parse_args()
    chosen = {key: VARIANTS[key] for key in dict.fromkeys([FIXED, *args.variants.split(",")])}
    ffmpeg9 = vmaf_ffmpeg()
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
    if "per-title" in chosen:
        print("\nper-title targets against the fixed ladder:")
        for line in check_per_title(results, VARIANTS[FIXED][0], VARIANTS["per-title"][0]):
            print(f"  {line}")
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
