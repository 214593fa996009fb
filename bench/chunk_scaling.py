"""How chunk encoding alone scales over cores: the pipeline's own chunk encode (the function each
chunk task runs) on N worker processes, each pinned to a core of its own and taking chunks from
one queue as Celery workers take tasks. No Airflow, storage or database: it runs wherever Python 3
and ffmpeg are, so it can measure a larger machine than the one the cluster benchmark
(``bench/scaling.py``) runs on.

    make bench-chunk-scaling
    python -m bench.chunk_scaling --size 1920x1080 --workers 1,4,8,16 --chunks-per-worker 2

Weak scaling: every worker encodes ``--chunks-per-worker`` chunks of ``--chunk-seconds``, so with
perfect scaling the wall time stays that of one worker. Efficiency = one worker's wall time / N
workers' wall time (1.0 is perfect; a speed-up of N x efficiency). Prints each run's wall time,
chunk encode times and CPU seconds per source second; writes ``bench/results/chunk-scaling-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from devenv import media
from hls_operators.core.job import MovieJob
from hls_operators.media.probing import plan_movie
from hls_operators.media.transcoding import encode_chunk_files
from hls_operators.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def encode_worker(core: int, job: MovieJob, settings: Settings, source: Path, scratch: Path, chunks, results) -> None:
    """One worker: pinned to ``core`` (ffmpeg and x264 size their thread pools from the affinity
    mask, as under ``taskset``), encoding chunks until the queue says stop."""
    try:
        os.sched_setaffinity(0, {core})
        log = logging.getLogger(f"worker-{core}")
        while (index := chunks.get()) is not None:
            out = scratch / f"chunk-{index}"
            started = time.monotonic()
            usage = encode_chunk_files(source, job, index, out, settings=settings, log=log)
            results.put(
                {
                    "worker": core,
                    "chunk": index,
                    "seconds": round(time.monotonic() - started, 2),
                    "cpu_seconds": round(usage.cpu_seconds, 2),
                    "max_rss_mb": usage.max_rss_bytes // 2**20,
                }
            )
            shutil.rmtree(out)
    except Exception as error:  # reported, so that the run stops instead of waiting for its chunks
        results.put({"error": f"worker on core {core}: {error!r}"})


def run_workers(
    workers: int, chunk_count: int, *, job: MovieJob, settings: Settings, source: Path, scratch: Path
) -> dict:
    """Chunks 0 .. chunk_count-1 encoded by ``workers`` pinned processes; their wall time and each chunk's figures."""
    chunks, results = multiprocessing.Queue(), multiprocessing.Queue()
    for index in range(chunk_count):
        chunks.put(index)
    for _ in range(workers):
        chunks.put(None)
    started = time.monotonic()
    processes = [
        multiprocessing.Process(
            target=encode_worker, args=(core, job, settings, source, scratch, chunks, results), daemon=True
        )
        for core in range(workers)
    ]
    for process in processes:
        process.start()
    encodes = []
    while len(encodes) < chunk_count:
        encode = results.get()
        if "error" in encode:
            raise RuntimeError(encode["error"])
        encodes.append(encode)
    for process in processes:
        process.join()
    wall = time.monotonic() - started
    source_seconds = sum(job.chunk_seconds(job.chunks[index]) for index in range(chunk_count))
    return {
        "workers": workers,
        "chunks": chunk_count,
        "wall_s": round(wall, 1),
        "chunk_encode_s": sorted(encode["seconds"] for encode in encodes),
        "cpu_s_per_source_s": round(sum(encode["cpu_seconds"] for encode in encodes) / source_seconds, 2),
        "max_rss_mb": max(encode["max_rss_mb"] for encode in encodes),
        "encodes": sorted(encodes, key=lambda encode: encode["chunk"]),
    }


def machine() -> dict:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = sorted({line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")})
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    return {"cores": os.cpu_count(), "cpu": models, "kernel": platform.release(), "ffmpeg": ffmpeg}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument(
        "--chunk-seconds", type=int, default=6, help="hls_chunk_seconds (a multiple of the 6 s segments)"
    )
    parser.add_argument("--chunks-per-worker", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="worker counts, one run each (the first is the baseline)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="x264_preset=VALUE", help="a setting (hls_ left off)"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.workers.split(",")]
    if max(sizes) > os.cpu_count():
        raise SystemExit(f"{max(sizes)} workers need as many cores; this machine has {os.cpu_count()}")
    width, height = (int(v) for v in args.size.split("x"))
    settings = Settings.from_values(
        {
            "bucket": "bench",
            "public_base_url": "http://bench.invalid",
            "chunk_seconds": args.chunk_seconds,
            **dict(item.split("=", 1) for item in args.set),
        }
    )
    seconds = max(sizes) * args.chunks_per_worker * args.chunk_seconds
    with tempfile.TemporaryDirectory(prefix="hls-bench-chunk-scaling-") as scratch_name:
        scratch = Path(scratch_name)
        started = time.monotonic()
        source = media.generate_movie(
            scratch / "source.mp4", width=width, height=height, seconds=seconds, noise=True, audio=False
        )
        print(f"{seconds} s {width}x{height} noisy source made in {time.monotonic() - started:.0f} s", flush=True)
        job = plan_movie(
            source, movie_id=1, source_url=str(source), expected_url=str(source), version="v1", settings=settings
        )
        print(
            f"rungs {[rung.name for rung in job.encoded_rungs]}, {len(job.chunks)} chunks of {args.chunk_seconds} s",
            flush=True,
        )
        runs = []
        for workers in sizes:
            run = run_workers(
                workers, workers * args.chunks_per_worker, job=job, settings=settings, source=source, scratch=scratch
            )
            runs.append(run)
            print(
                f"  {workers:2d} worker(s): {run['chunks']} chunks in {run['wall_s']} s, chunk encodes "
                f"{run['chunk_encode_s'][0]}-{run['chunk_encode_s'][-1]} s (median {statistics.median(run['chunk_encode_s'])}), "
                f"{run['cpu_s_per_source_s']} CPU-s per source second",
                flush=True,
            )
    baseline = runs[0]
    efficiency = {run["workers"]: round(baseline["wall_s"] / run["wall_s"], 2) for run in runs[1:]}
    for workers, value in efficiency.items():
        print(f"{workers} workers: efficiency {value} (speed-up {value * workers / baseline['workers']:.1f}x)")
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"chunk-scaling-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    target.write_text(
        json.dumps(
            {
                "machine": machine(),
                "source": {"size": args.size, "seconds": seconds},
                "chunk_seconds": args.chunk_seconds,
                "settings": args.set,
                "runs": runs,
                "efficiency": efficiency,
            },
            indent=2,
        )
    )
    print(f"written: {target}")


if __name__ == "__main__":
    main()
