"""The ffmpeg runner against real processes: a death by signal is a fault of the worker (retried),
ffmpeg over its memory limit is stopped with a clear error, and ffprobe killed is never "corrupt"."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from devenv import media
from hls_operators.core import probe_commands
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.edges.ffmpeg import run_ffmpeg, run_ffprobe

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg


def busy_encode(seconds: float) -> list[str]:
    """1080p with temporal noise, encoded and thrown away: steady work, a few hundred MB."""
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi",
        "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=12:allf=t",
        "-c:v", "libx264", "-preset", "faster", "-f", "null", "-",
    ]  # fmt: skip


BUSY_ENCODE = busy_encode(20)  # longer than any test lets it run


def kill_children_named(name: str, after: float, sig: int = signal.SIGKILL) -> threading.Thread:
    """Kill this process's children called ``name`` once, ``after`` seconds from now."""

    def kill() -> None:
        time.sleep(after)
        for proc in Path("/proc").iterdir():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if proc.name.isdigit() and ppid == os.getpid() and f"({name})" in stat:
                os.kill(int(proc.name), sig)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_ffmpeg_killed_by_a_signal_is_a_retryable_fault_of_the_worker(sig):
    kill_children_named("ffmpeg", after=1.0, sig=sig)
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(BUSY_ENCODE, label="movie 1 chunk 1/1", timeout=120)
    assert caught.value.error_class is ErrorClass.WORKER_LOST and caught.value.retryable
    # SIGKILL kills it; SIGTERM it catches, and exits with 255 after stopping cleanly
    named = signal.Signals(sig).name if sig == signal.SIGKILL else "a signal"
    assert caught.value.message.startswith(f"movie 1 chunk 1/1 was killed by {named}")


def test_ffmpeg_over_its_memory_limit_is_stopped_and_refused_clearly():
    with pytest.raises(MigrationError) as caught:
        run_ffmpeg(BUSY_ENCODE, label="movie 1 chunk 1/1", timeout=120, memory_limit_bytes=40 * 2**20)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and not caught.value.retryable
    assert "over the limit of 40 MB per transcode (hls_transcode_memory_limit_mb)" in caught.value.message


def test_the_same_encode_within_its_limit_reports_its_peak_memory():
    usage = run_ffmpeg(busy_encode(1), label="short", timeout=120, memory_limit_bytes=2 * 2**30)
    assert 40 * 2**20 < usage.max_rss_bytes < 2 * 2**30 and usage.cpu_seconds > 0


def test_ffprobe_killed_while_reading_is_a_fault_of_the_worker_not_a_corrupt_file(tmp_path):
    """ffprobe blocks on a FIFO nobody writes to, like a stalled read; then it is killed."""
    stalled = tmp_path / "stalled.mp4"
    os.mkfifo(stalled)
    kill_children_named("ffprobe", after=1.0)
    with pytest.raises(MigrationError) as caught:
        run_ffprobe(["ffprobe", "-v", "error", str(stalled)], timeout=60)
    assert (
        caught.value.error_class is ErrorClass.WORKER_LOST and "ffprobe was killed by SIGKILL" in caught.value.message
    )


def test_a_reader_is_under_the_memory_watchdog_too(tmp_path, monkeypatch):
    """A file made to blow ffprobe up (thousands of streams, an endless listing) is stopped and
    refused like an encode over its limit. ffprobe here waits on a FIFO, holding its usual few MB,
    and the limit is lowered below that."""
    monkeypatch.setattr("hls_operators.edges.ffmpeg.READER_MEMORY_LIMIT_BYTES", 2 * 2**20)
    stalled = tmp_path / "stalled.mp4"
    os.mkfifo(stalled)
    with pytest.raises(MigrationError) as caught:
        run_ffprobe(["ffprobe", "-v", "error", str(stalled)], timeout=60)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "MB of memory" in caught.value.message


def test_a_listing_handed_over_line_by_line_is_not_kept(tmp_path):
    source = media.generate_movie(tmp_path / "m.mp4", width=320, height=180, seconds=2)
    lines: list[str] = []
    completed = run_ffprobe(probe_commands.stream_packets_args(source, 0), on_line=lines.append)
    assert completed.returncode == 0 and completed.stdout == ""
    assert sum(line.startswith("packet|") for line in lines) >= 48 and lines[-1].startswith("stream|")
