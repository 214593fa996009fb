"""A movie encoded in chunks by separate tasks plays like one encoded whole: no join to see or hear."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from hls_operators.settings import Settings
from tests import hostile_media
from tests.hls_checks import packets
from tests.transcoding import transcode, upload_and_probe

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg

LADDER = "360:800,240:400"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """40 s of moving pictures at 29.97 fps (frame times never fall on whole seconds) and a tone
    that starts 0.5 s after the picture."""
    path = tmp_path_factory.mktemp("chunked") / "movie.mp4"
    subprocess.run(
        [*hostile_media.FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30000/1001:duration=40",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=39.5",
         "-filter_complex", "[1:a]adelay=500:all=1[a]", "-map", "0:v", "-map", "[a]",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-c:a", "aac", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path


def convert(source: Path, seaweedfs, folder: Path, *, chunk_slots: int) -> tuple[Path, list]:
    """Probe and transcode as the DAG does (chunk tasks, then the package); the renditions unpacked."""
    store = seaweedfs.new_store("c")
    bucket = store.bucket
    settings = Settings.from_values(
        {"bucket": bucket, "public_base_url": "https://cdn.example/m", "ladder": LADDER, "chunk_seconds": "12"}
    )
    job = upload_and_probe(source, 1, store=store, settings=settings, work=folder / "probe", chunk_slots=chunk_slots)
    transcode(job, store=store, settings=settings, work=folder / "transcode")
    store.download_file("hls-work/1/v1/renditions.tar", folder / "renditions.tar")
    (folder / "out").mkdir()
    subprocess.run(["tar", "-xf", str(folder / "renditions.tar"), "-C", str(folder / "out")], check=True)
    return folder / "out", job.chunks


def frame_psnr(a: Path, b: Path) -> list[float]:
    """PSNR of each frame of ``a`` against the same frame of ``b``."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(a), "-i", str(b), "-lavfi", "[0:v][1:v]psnr=stats_file=-", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [float(v) if v != "inf" else 100.0 for v in re.findall(r"psnr_avg:(\S+)", result.stdout)]


@pytest.fixture(scope="module")
def whole_and_chunked(source, seaweedfs, tmp_path_factory):
    whole, whole_chunks = convert(source, seaweedfs, tmp_path_factory.mktemp("whole"), chunk_slots=1)
    chunked, chunks = convert(source, seaweedfs, tmp_path_factory.mktemp("chunked"), chunk_slots=3)
    assert len(whole_chunks) == 1 and [(c.start, c.end) for c in chunks] == [(0, 18), (18, 30), (30, None)]
    return whole, chunked


@pytest.mark.parametrize("rung", ["360p", "240p"])
def test_the_joins_are_invisible(whole_and_chunked, rung):
    whole, chunked = whole_and_chunked
    frames = packets(chunked / rung / "index.m3u8", "v:0")
    # every frame once, one frame duration apart: no gap and no overlap at 18 s and 30 s
    assert [b[0] - a[0] for a, b in zip(frames, frames[1:])] == [3003] * (len(frames) - 1)
    assert frames == packets(whole / rung / "index.m3u8", "v:0")
    # the same picture at the same time as in the one-chunk encode (a frame off would drop to ~15 dB)
    assert min(frame_psnr(chunked / rung / "index.m3u8", whole / rung / "index.m3u8")) > 30
    # the same segments, cut where a whole encode cuts them
    assert (chunked / rung / "index.m3u8").read_text() == (whole / rung / "index.m3u8").read_text()


def test_the_audio_is_encoded_once_and_continuous(whole_and_chunked):
    whole, chunked = whole_and_chunked
    audio = packets(chunked / "audio_0" / "index.m3u8", "a:0")
    assert all(b[0] - a[0] == a[1] for a, b in zip(audio, audio[1:]))  # back to back, no gap
    video = packets(chunked / "360p" / "index.m3u8", "v:0")
    # both start at the movie's start, on one timeline: at most the AAC encoder's priming (1024 samples) apart
    assert abs(audio[0][0] - video[0][0]) <= 1920
    total = (audio[-1][0] + audio[-1][1] - audio[0][0]) / 90000
    assert total == pytest.approx(40.0, abs=0.05)  # the late start is filled with silence, not dropped
    # one audio rendition beside the video-only rungs, the same whether the video came in chunks or not
    assert packets(chunked / "360p" / "index.m3u8", "a:0") == []
    assert audio == packets(whole / "audio_0" / "index.m3u8", "a:0")


def test_the_storyboard_is_the_same_whichever_chunk_made_each_tile(whole_and_chunked):
    whole, chunked = whole_and_chunked
    vtt = (chunked / "storyboard" / "storyboard.vtt").read_text()
    assert vtt == (whole / "storyboard" / "storyboard.vtt").read_text() and vtt.count("-->") == 8
    assert sorted(p.name for p in (chunked / "storyboard").iterdir()) == ["sheet_000.jpg", "storyboard.vtt"]
