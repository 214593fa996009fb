"""Independent checks of a published HLS set, over HTTP as a player sees it.

These use the m3u8 and ffmpeg-python packages and ffprobe/ffmpeg, not the pipeline's own parsers, so that a bug in the
pipeline's playlist code cannot hide itself.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urljoin

import ffmpeg
import m3u8

PLAYER = Path(__file__).resolve().parents[1] / "player" / "check_playback.mjs"


@dataclass
class Fetched:
    body: bytes
    content_type: str
    cache_control: str


def fetch(url: str) -> Fetched:
    with urllib.request.urlopen(url, timeout=30) as response:
        return Fetched(response.read(), response.headers["Content-Type"], response.headers["Cache-Control"] or "")


@dataclass
class Rendition:
    uri: str
    stream_info: object  # a variant's; None for an audio or subtitle rendition
    durations: list[float]
    segment_urls: list[str]
    segment_sizes: list[int]
    kind: str = "VARIANT"  # or "AUDIO", "SUBTITLES"
    target_duration: int = 0

    def peak_bps(self) -> float:
        """RFC 8216 4.3.4.2: the largest bit rate of any run of segments lasting 0.5 to 1.5 times the
        target duration (written out here apart from the pipeline's own measure)."""
        runs = [
            (sum(self.segment_sizes[i:j]) * 8 / sum(self.durations[i:j]))
            for i in range(len(self.durations))
            for j in range(i + 1, len(self.durations) + 1)
            if 0.5 * self.target_duration <= sum(self.durations[i:j]) <= 1.5 * self.target_duration
        ]
        return max(runs, default=self.average_bps())

    def average_bps(self) -> float:
        return sum(self.segment_sizes) * 8 / sum(self.durations)


CONTENT_TYPES = {".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4", ".vtt": "text/vtt"}


def fetch_media(url: str) -> bytes:
    """A segment or init section, checked for its Content-Type and an immutable Cache-Control."""
    got = fetch(url)
    assert got.content_type == CONTENT_TYPES[Path(url).suffix], (url, got.content_type)
    assert "immutable" in got.cache_control
    return got.body


def local_segments(rendition_dir: Path, folder: Path) -> list[Path]:
    """Every segment of a rendition on disk (its ``index.m3u8`` and files), each readable on its own."""
    media = m3u8.load(str(rendition_dir / "index.m3u8"))
    init = rendition_dir / media.segment_map[0].uri if media.segment_map else None
    return [standalone(rendition_dir / segment.uri, init, folder) for segment in media.segments]


def standalone(segment: Path, init: Path | None, folder: Path) -> Path:
    """``segment`` as a file ffprobe reads on its own: an fMP4 segment after its init section."""
    if init is None:
        return segment
    joined = folder / f"{segment.parent.name}-{segment.name}.mp4"
    joined.write_bytes(init.read_bytes() + segment.read_bytes())
    return joined


def load_set(master_url: str, download_to: Path) -> tuple[m3u8.M3U8, Fetched, list[Rendition]]:
    """Fetch the master, every media playlist (variants, audio and subtitle renditions) and every
    segment (saved under ``download_to``)."""
    master_response = fetch(master_url)
    master = m3u8.loads(master_response.body.decode(), uri=master_url)
    listed = [(v.uri, v.stream_info, "VARIANT") for v in master.playlists]
    listed += [(m.uri, None, m.type) for m in master.media if m.uri]
    renditions = []
    for uri, stream_info, kind in listed:
        media_url = urljoin(master_url, uri)
        media = m3u8.loads(fetch(media_url).body.decode(), uri=media_url)
        urls, sizes = [], []
        # fMP4: each segment is saved after its init section, so that every file reads on its own
        init = fetch_media(urljoin(media_url, media.segment_map[0].uri)) if media.segment_map else b""
        for index, segment in enumerate(media.segments):
            url = urljoin(media_url, segment.uri)
            body = fetch_media(url)
            target = download_to / uri.replace("/", "_") / f"{index:05d}{Path(segment.uri).suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(init + body)
            urls.append(url)
            sizes.append(len(body))
        durations = [s.duration for s in media.segments]
        renditions.append(Rendition(uri, stream_info, durations, urls, sizes, kind, media.target_duration))
    return master, master_response, renditions


def first_video_frame_is_keyframe(segment: Path) -> bool:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
         "-show_entries", "frame=key_frame,pict_type", "-of", "json", str(segment)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    frames = json.loads(result.stdout)["frames"]
    return bool(frames) and frames[0]["key_frame"] == 1


def stream_summary(path_or_url: str) -> dict:
    """``{codec_type: stream}`` as ffmpeg-python's prober reports it."""
    return {s["codec_type"]: s for s in ffmpeg.probe(path_or_url)["streams"]}


def decode_errors(url: str) -> str:
    """stderr of a full decode of the playlist (empty when clean)."""
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", url, "-f", "null", "-"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return result.stderr if result.returncode == 0 else f"exit {result.returncode}: {result.stderr}"


def fetch_range(url: str, offset: int, length: int) -> bytes:
    """A byte range, the way a player reads an EXT-X-BYTERANGE."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-{offset + length - 1}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 206, response.status
        return response.read()


def decoded_frames(media_bytes: bytes, folder: Path) -> list[dict]:
    """Every video frame ffprobe decodes from a byte string (MPEG-TS, or fMP4 after its init section)."""
    path = folder / "probe.media"
    path.write_bytes(media_bytes)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,width,height",
         "-of", "json", str(path)], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)["frames"]


def image_size(url: str, folder: Path) -> tuple[int, int]:
    path = folder / "image.jpg"
    path.write_bytes(fetch(url).body)
    stream = stream_summary(str(path))["video"]
    return stream["width"], stream["height"]


def play_in_browser(master_url: str, screenshot: Path | None = None) -> tuple[int, dict]:
    """``player/check_playback.mjs``: hls.js in headless Chromium plays the set; its exit status
    and the JSON line it prints last."""
    result = subprocess.run(
        ["node", str(PLAYER), master_url, *([str(screenshot)] if screenshot else [])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def packets(playlist: Path, stream: str) -> list[tuple[int, int]]:
    """(pts, duration) of every packet of the stream, in 90 kHz ticks, in presentation order, read
    from the playlist's segments back to back as a player receives them, after the init section
    for fMP4 (ffmpeg's own HLS demuxer loses a packet of an audio-only rendition now and then)."""
    listed_media = m3u8.loads(playlist.read_text())
    init = [listed_media.segment_map[0].uri] if listed_media.segment_map else []
    segments = "|".join(init + [s.uri for s in listed_media.segments])
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-protocol_whitelist", "file,concat", "-select_streams", stream,
         "-show_entries", "packet=pts,duration:stream=time_base", "-of", "json", f"concat:{segments}"],
        capture_output=True, text=True, check=True, cwd=playlist.parent,
    )  # fmt: skip
    found = json.loads(result.stdout)
    if not found["packets"]:
        return []
    ticks = Fraction(found["streams"][0]["time_base"]) * 90000  # fMP4 keeps the track's own time base
    listed = sorted((int(p["pts"]), p.get("duration")) for p in found["packets"])
    starts = [pts for pts, _ in listed] + [listed[-1][0]]
    # fMP4 gives the first audio packet (the encoder's priming) no duration: it lasts until the next one
    durations = [int(d) if d is not None else starts[i + 1] - starts[i] for i, (_, d) in enumerate(listed)]
    return [(int(pts * ticks), int(duration * ticks)) for (pts, _), duration in zip(listed, durations)]
