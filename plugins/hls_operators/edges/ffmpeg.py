"""Running ffmpeg and ffprobe: no shell, a timeout, bounded stderr and progress in the log."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hls_operators.core.errors import ErrorClass, MigrationError, is_disk_full

PROGRESS_LOG_SECONDS = 5.0
STDERR_TAIL_BYTES = 4000


@dataclass(frozen=True)
class Progress:
    done_seconds: float
    speed: float | None

    def percent(self, total_seconds: float) -> float:
        return 100.0 * min(1.0, self.done_seconds / total_seconds) if total_seconds > 0 else 0.0

    def eta_seconds(self, total_seconds: float) -> float | None:
        return max(0.0, total_seconds - self.done_seconds) / self.speed if self.speed else None

    def describe(self, total_seconds: float) -> str:
        text = f"{self.percent(total_seconds):5.1f}% ({self.done_seconds:.1f}/{total_seconds:.1f} s)"
        eta = self.eta_seconds(total_seconds)
        if eta is not None:
            text += f", speed {self.speed:.2f}x, ETA {eta:.0f} s"
        return text


@dataclass(frozen=True)
class FfmpegUsage:
    """What ffmpeg runs cost: CPU seconds (user and system, all threads), which the dry-run estimate
    learns its speed from, wall seconds, which tell the encode apart from the work around it, and
    the largest process's peak memory."""

    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    max_rss_bytes: int = 0

    def __add__(self, other: FfmpegUsage) -> FfmpegUsage:
        return FfmpegUsage(
            self.cpu_seconds + other.cpu_seconds,
            self.wall_seconds + other.wall_seconds,
            max(self.max_rss_bytes, other.max_rss_bytes),
        )

    def ledger_details(self) -> dict[str, float]:
        return {"cpu_seconds": round(self.cpu_seconds, 2), "ffmpeg_seconds": round(self.wall_seconds, 2)}


def parse_progress(block: dict[str, str]) -> Progress:
    """One ``-progress`` block (key=value lines up to ``progress=...``)."""
    out_us = block.get("out_time_us", "N/A")
    speed = block.get("speed", "N/A").rstrip("x").strip()
    return Progress(
        done_seconds=int(out_us) / 1e6 if out_us.lstrip("-").isdigit() else 0.0,
        speed=float(speed) if speed not in ("N/A", "") else None,
    )


def _failure(label: str, returncode: int, stderr: str) -> MigrationError:
    if is_disk_full(stderr):
        return MigrationError(ErrorClass.DISK_FULL, f"{label}: no space left on device")
    return MigrationError(ErrorClass.TRANSCODE_FAILED, f"{label} exited with {returncode}: {stderr.strip()}")


def run_ffprobe(args: list[str], *, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ffprobe and return the finished process; the caller classifies a non-zero exit."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    except subprocess.TimeoutExpired as error:
        raise MigrationError(ErrorClass.TIMEOUT, f"ffprobe took more than {timeout:.0f} s") from error


def run_ffmpeg(
    args: list[str],
    *,
    label: str,
    timeout: float,
    total_seconds: float = 0.0,
    log: logging.Logger | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> FfmpegUsage:
    """Run an ffmpeg command; with ``-progress pipe:1`` in ``args``, log percent, speed and ETA
    every few seconds and hand the same to ``on_progress``. Returns what it cost."""
    log = log or logging.getLogger(__name__)
    with tempfile.TemporaryFile() as stderr_file:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr_file, text=True)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        started = last_log = time.monotonic()
        try:
            block: dict[str, str] = {}
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                block[key] = value
                if key != "progress":
                    continue
                now = time.monotonic()
                if now - last_log >= PROGRESS_LOG_SECONDS or value == "end":
                    progress = parse_progress(block)
                    log.info("%s %s", label, progress.describe(total_seconds))
                    if on_progress is not None:
                        on_progress(progress)
                    last_log = now
                block = {}
            # wait4: this process's own CPU time and peak memory, whatever else runs beside it.
            _, status, usage = os.wait4(process.pid, 0)
            returncode = process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr_file.seek(0, 2)
        stderr_file.seek(max(0, stderr_file.tell() - STDERR_TAIL_BYTES))
        stderr = stderr_file.read().decode("utf-8", "replace")
    elapsed = time.monotonic() - started
    if returncode != 0 and elapsed >= timeout:
        raise MigrationError(ErrorClass.TIMEOUT, f"{label} was stopped after {timeout:.0f} s")
    if returncode != 0:
        raise _failure(label, returncode, stderr)
    return FfmpegUsage(usage.ru_utime + usage.ru_stime, elapsed, usage.ru_maxrss * 1024)
