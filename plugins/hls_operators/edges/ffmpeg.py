"""Running ffmpeg and ffprobe: no shell, a time and a memory limit, bounded stderr, progress in the
log, and a death by signal told apart from ffmpeg refusing its input."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hls_operators.core.errors import ErrorClass, MigrationError, is_disk_full, killed_by_signal

PROGRESS_LOG_SECONDS = 5.0
STDERR_TAIL_BYTES = 4000
# ffmpeg catches SIGINT and SIGTERM, stops cleanly and exits with this code instead of dying.
FFMPEG_EXIT_ON_SIGNAL = 255
# What ffmpeg 5.1 prints, and still exits 0, when it cannot finish an output (an MP4 without its
# index, for one): a disk that fills up while the trailer is written leaves such a file.
UNFINISHED_OUTPUT_TEXTS = ("Error writing trailer", "Error closing file")
WATCH_SECONDS = 0.2  # how often the watchdog looks at a running ffmpeg's clock and memory
# A reader (ffprobe, a listing) holds a few MB; a file made to blow one up (thousands of streams,
# a listing kept whole) is stopped at this and refused.
READER_MEMORY_LIMIT_BYTES = 1024 * 2**20
# Where the kernel counts its OOM kills in this worker's memory cgroup (v2, then v1).
OOM_COUNTERS = (Path("/sys/fs/cgroup/memory.events"), Path("/sys/fs/cgroup/memory/memory.oom_control"))


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


def _failure(label: str, returncode: int, stderr: str, oom_kills_before: int | None) -> MigrationError:
    if returncode < 0:
        after = oom_kills()
        oom_killed = oom_kills_before is not None and after is not None and after > oom_kills_before
        return killed_by_signal(label, -returncode, oom_killed=oom_killed)
    if returncode == FFMPEG_EXIT_ON_SIGNAL:
        return killed_by_signal(label, None, oom_killed=False)
    if is_disk_full(stderr):
        return MigrationError(ErrorClass.DISK_FULL, f"{label}: no space left on device")
    if returncode == 0:
        return MigrationError(ErrorClass.TRANSCODE_FAILED, f"{label} could not finish its output: {stderr.strip()}")
    return MigrationError(ErrorClass.TRANSCODE_FAILED, f"{label} exited with {returncode}: {stderr.strip()}")


def _unfinished_output(stderr: str) -> bool:
    return any(text in stderr for text in UNFINISHED_OUTPUT_TEXTS)


def oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has taken in this worker's memory cgroup (None:
    the kernel does not say here)."""
    for counter in OOM_COUNTERS:
        try:
            for line in counter.read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
        except OSError:
            continue
    return None


def resident_bytes(pid: int) -> int:
    """A running process's resident memory (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run_ffprobe(
    args: list[str], *, timeout: float = 120, cwd: Path | None = None, on_line: Callable[[str], None] | None = None
) -> subprocess.CompletedProcess:
    """Run a short reading command (ffprobe, or ffmpeg copying to a listing such as the IDR frames'
    ``framecrc``) and return the finished process; the caller classifies a non-zero exit. A reader
    killed by a signal is the worker's fault, never the file's: it is classified here. Its memory
    is watched as a transcode's is (``READER_MEMORY_LIMIT_BYTES``); with ``on_line``, each line of
    its output is handed over as it comes and none is kept, so that a listing of a whole movie's
    packets never sits in memory."""
    program = Path(args[0]).name
    oom_before = oom_kills()
    watched = _WatchedProcess(args, timeout, READER_MEMORY_LIMIT_BYTES, cwd=cwd)
    kept: list[str] = []
    try:
        for raw in watched.process.stdout:
            line = raw.decode("utf-8", "replace")
            if on_line is None:
                kept.append(line)
            else:
                on_line(line)
        returncode = watched.process.wait()
    finally:
        stderr = watched.close()
    watchdog = watched.watchdog
    if watchdog.stopped_for == "time":
        raise MigrationError(ErrorClass.TIMEOUT, f"{program} took more than {timeout:.0f} s")
    if watchdog.stopped_for == "memory":
        raise MigrationError(
            ErrorClass.UNSUPPORTED,
            f"{program} was stopped at {watchdog.peak_bytes / 2**20:.0f} MB of memory reading the file",
        )
    if returncode < 0:
        raise _failure(program, returncode, stderr, oom_before)
    return subprocess.CompletedProcess(args, returncode, "".join(kept), stderr)


class _StderrTail(threading.Thread):
    """Drains a process's stderr and keeps its last bytes in memory: never in a file, because the
    work disk may be the one that is full, and then "No space left on device" is what must be read."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.tail = stream, bytearray()

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read(8192), b""):
            self.tail += chunk
            del self.tail[:-STDERR_TAIL_BYTES]

    def text(self) -> str:
        self.join()
        return self.tail.decode("utf-8", "replace")


class _Watchdog(threading.Thread):
    """Kills ffmpeg once it runs past its time or holds more memory than its limit, and says which:
    an over-large job then fails clearly instead of taking the worker down with it."""

    def __init__(self, process: subprocess.Popen, timeout: float, memory_limit_bytes: int) -> None:
        super().__init__(daemon=True)
        self.process, self.timeout, self.memory_limit_bytes = process, timeout, memory_limit_bytes
        self.stopped_for: str | None = None  # "time" or "memory"
        self.peak_bytes = 0
        self.finished = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.finished.wait(WATCH_SECONDS):
            if time.monotonic() >= deadline:
                self.stopped_for = "time"
            elif self.memory_limit_bytes:
                self.peak_bytes = max(self.peak_bytes, resident_bytes(self.process.pid))
                if self.peak_bytes > self.memory_limit_bytes:
                    self.stopped_for = "memory"
            if self.stopped_for:
                self.process.kill()
                return


class _WatchedProcess:
    """A child process with its stdout piped, the tail of its stderr kept and its clock and memory
    watched (``_Watchdog``); ``close`` ends all of that whatever happened, and returns the tail."""

    def __init__(self, args: list[str], timeout: float, memory_limit_bytes: int, *, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
        self.stderr_tail = _StderrTail(self.process.stderr)
        self.stderr_tail.start()
        self.watchdog = _Watchdog(self.process, timeout, memory_limit_bytes)
        self.watchdog.start()

    def close(self) -> str:
        self.watchdog.finished.set()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        stderr = self.stderr_tail.text()
        self.process.stderr.close()
        return stderr


def run_ffmpeg(
    args: list[str],
    *,
    label: str,
    timeout: float,
    memory_limit_bytes: int = 0,
    total_seconds: float = 0.0,
    log: logging.Logger | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> FfmpegUsage:
    """Run an ffmpeg command, stopped after ``timeout`` seconds or once its resident memory passes
    ``memory_limit_bytes`` (0: no limit); with ``-progress pipe:1`` in ``args``, log percent, speed
    and ETA every few seconds and hand the same to ``on_progress``. Returns what it cost."""
    log = log or logging.getLogger(__name__)
    oom_before = oom_kills()
    watched = _WatchedProcess(args, timeout, memory_limit_bytes)
    process, watchdog = watched.process, watched.watchdog
    started = last_log = time.monotonic()
    try:
        block: dict[str, str] = {}
        for line in process.stdout:
            key, _, value = line.decode("utf-8", "replace").strip().partition("=")
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
        stderr = watched.close()
    elapsed = time.monotonic() - started
    if watchdog.stopped_for == "time":
        raise MigrationError(ErrorClass.TIMEOUT, f"{label} was stopped after {timeout:.0f} s")
    if watchdog.stopped_for == "memory":
        raise MigrationError(
            ErrorClass.UNSUPPORTED,
            f"{label} was stopped at {watchdog.peak_bytes / 2**20:.0f} MB of memory, over the limit of "
            f"{memory_limit_bytes / 2**20:.0f} MB per transcode (hls_transcode_memory_limit_mb)",
        )
    if returncode != 0 or _unfinished_output(stderr):
        raise _failure(label, returncode, stderr, oom_before)
    return FfmpegUsage(usage.ru_utime + usage.ru_stime, elapsed, usage.ru_maxrss * 1024)
