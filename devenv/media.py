"""Test and demo movies made with ffmpeg's lavfi sources, plus the CC0 clips kept in tests/data."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CC0_CLIPS = {name: REPO / "tests" / "data" / name for name in ("flower.mp4", "friday.mp4")}


def generate_movie(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int = 30,
    audio: bool = True,
    noise: bool = False,
    faststart: bool = True,
    video_kbps: int | None = None,
) -> Path:
    """An H.264/AAC MP4 with moving test patterns (and a tone); moov first unless ``faststart`` is off.

    ``video_kbps`` caps the video bitrate, as a catalog's encoder would; without it a noisy source
    comes out at tens of megabits per second."""
    video = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
    if noise:
        video += ",noise=alls=12:allf=t"  # real-looking entropy, so bitrates are not trivially low
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", video]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps * 4)]
    if video_kbps:
        args += ["-b:v", f"{video_kbps}k", "-maxrate", f"{video_kbps}k", "-bufsize", f"{video_kbps * 2}k"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    if faststart:
        args += ["-movflags", "+faststart"]
    args.append(str(path))
    subprocess.run(args, check=True)
    return path


def truncated_copy(source: Path, path: Path, fraction: float = 0.5) -> Path:
    """The first part of a file: for a moov-first MP4, a container whose media data stops early."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
