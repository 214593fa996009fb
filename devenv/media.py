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


# Subtitle cues of the multilingual movie, per language: (start, end, text).
SUBTITLES = {
    "eng": [(0.5, 2.0, "Hello, world."), (5.0, 7.5, "Across a segment boundary.")],
    "fra": [(0.5, 2.0, "Bonjour, le monde."), (5.0, 7.5, "À cheval sur deux segments.")],
}


def multilingual_movie(path: Path, seconds: float = 10) -> Path:
    """A film as a catalog has them: English audio (default) and French audio titled by the studio
    (in the MP4 handler name, where studios put it), English and French text subtitles (mov_text;
    the French forced)."""
    srt_files = []
    for language, cues in SUBTITLES.items():
        srt = path.with_name(f"{path.stem}-{language}.srt")
        srt.write_text(
            "".join(f"{n}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n\n" for n, (a, b, text) in enumerate(cues, 1))
        )
        srt_files.append(srt)
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=660:duration={seconds}",
        "-i", str(srt_files[0]), "-i", str(srt_files[1]),
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map", "4:s",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "mov_text",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "handler_name=Version française",
        "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
        "-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:s:0", "0", "-disposition:s:1", "forced",
        str(path),
    ], check=True)  # fmt: skip
    return path


def _srt_time(seconds: float) -> str:
    return f"00:00:{int(seconds):02d},{round(seconds % 1 * 1000):03d}"
