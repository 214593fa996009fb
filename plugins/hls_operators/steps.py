"""The per-movie steps as plain functions: local disk, ffmpeg and object storage, no Airflow.

Steps hand off through object storage (``work_key`` objects), so each step of a movie may run on a
different worker; when the next step runs on the same worker, it takes the hand-off from the
worker's cache instead of downloading it. Each step works in its own temporary folder, which the
caller removes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from hls_operators import commands, publishing
from hls_operators.chunks import Chunk, plan_chunks
from hls_operators.errors import ErrorClass, MigrationError
from hls_operators.ffmpeg import FfmpegUsage, Progress, run_ffmpeg, run_ffprobe
from hls_operators.ladder import Rung, copy_refusal, plan_ladder
from hls_operators.playlists import (
    AUDIO_AAC_LC,
    IFrameVariant,
    Variant,
    avc_codec_string,
    measure_bandwidth,
    parse_media_playlist,
    write_master,
)
from hls_operators.probe import ProbeResult, check_limits, check_not_encrypted, classify_probe_failure, parse_probe
from hls_operators.settings import Settings
from hls_operators.source import fetch_source
from hls_operators.storage import ObjectStore
from hls_operators.trickplay import (
    IFRAME_PLAYLIST,
    STORYBOARD_DIR,
    STORYBOARD_SHEET_PATTERN,
    STORYBOARD_TILE_PATTERN,
    STORYBOARD_VTT,
    StoryboardPlan,
    VideoPacket,
    iframe_bandwidth,
    locate_iframes,
    parse_iframe_playlist,
    storyboard_cues,
    write_iframe_playlist,
    write_storyboard_vtt,
)
from hls_operators.verify import DURATION_TOLERANCE_SECONDS, VerifiedSet, verify_hls_set
from hls_operators.worker_cache import WorkerCache

RENDITIONS_TAR = "renditions.tar"
THUMBNAILS_TAR = "thumbnails.tar"
MANIFEST = "manifest.json"
RENDITIONS_INFO = "renditions.json"
TILES_DIR = "tiles"
WORKER_CACHE_DIR = "hls-worker-cache"  # under the work folder (tmp_dir), beside the tasks' own folders


@dataclass(frozen=True)
class MovieJob:
    """What every step after the probe needs to know about one movie; travels as XCom."""

    movie_id: int
    source_url: str
    expected_url: str
    version: str
    probe: ProbeResult
    ladder: list[Rung]
    chunks: list[Chunk]

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "probe": self.probe.to_dict(),
            "ladder": [r.to_dict() for r in self.ladder],
            "chunks": [c.to_dict() for c in self.chunks],
        }

    @classmethod
    def from_dict(cls, data: dict) -> MovieJob:
        return cls(
            movie_id=int(data["movie_id"]),
            source_url=data["source_url"],
            expected_url=data["expected_url"],
            version=data["version"],
            probe=ProbeResult.from_dict(data["probe"]),
            ladder=[Rung.from_dict(r) for r in data["ladder"]],
            chunks=[Chunk.from_dict(c) for c in data["chunks"]],
        )

    def work_key(self, settings: Settings, name: str) -> str:
        return publishing.work_key(settings.work_prefix, self.movie_id, self.version, name)

    @property
    def encoded_rungs(self) -> list[Rung]:
        return [rung for rung in self.ladder if not rung.source_copy]

    def chunk_frames(self, chunk: Chunk) -> int | None:
        """How many frames the chunk holds (None for the last: up to the end of the movie)."""
        end = chunk.end_frame(self.probe.fps)
        return None if end is None else end - chunk.first_frame(self.probe.fps)

    def chunk_seconds(self, chunk: Chunk) -> float:
        return (self.probe.duration if chunk.end is None else chunk.end) - chunk.start

    def output_prefix(self, settings: Settings) -> str:
        return publishing.output_prefix(settings.output_prefix, self.movie_id, self.version)

    def master_url(self, settings: Settings) -> str:
        return settings.public_url(f"{self.output_prefix(settings)}/{publishing.MASTER_PLAYLIST}")


@dataclass(frozen=True)
class Published:
    output_prefix: str
    master_url: str
    objects: int
    bytes: int


def _fetch(source_url: str, movie_id: int, version: str, work: Path, store: ObjectStore, settings: Settings) -> Path:
    """The conversion's source in ``work``: from this worker's source cache when an earlier task of
    the same conversion ran here, else downloaded."""

    def download(target: Path) -> Path:
        return fetch_source(
            source_url,
            target,
            store=store,
            public_base_url=settings.public_base_url,
            max_bytes=settings.max_source_bytes,
            timeout=settings.http_timeout_seconds,
            allowed_hosts=settings.source_hosts_allowed,
        )

    # The URL's hash too: a caller that reuses a version for another source never gets a stale file.
    key = f"{movie_id}-{version}-{hashlib.sha256(source_url.encode()).hexdigest()[:16]}.mp4"
    return worker_cache(work.parent, settings).fetch(key, work / "source.mp4", download)


def worker_cache(work_root: Path, settings: Settings) -> WorkerCache:
    """The cache beside the tasks' work folders under ``work_root``: on the same disk, for hard links
    and renames."""
    return WorkerCache(
        work_root / WORKER_CACHE_DIR,
        budget_bytes=settings.worker_cache_bytes,
        max_age_seconds=settings.claim_ttl_minutes * 60,
    )


def probe_source(path: Path) -> ProbeResult:
    """ffprobe a local file; classified errors for anything that is not a readable MP4 video."""
    with path.open("rb") as handle:
        head = handle.read(64)
    completed = run_ffprobe(commands.probe_args(path))
    if completed.returncode != 0 or not head:
        raise classify_probe_failure(head, completed.stderr, str(path))
    probe = parse_probe(json.loads(completed.stdout), file_size=path.stat().st_size)
    with path.open("rb") as handle:
        check_not_encrypted(handle)
    return probe


def probe_movie(
    *,
    movie_id: int,
    source_url: str,
    expected_url: str,
    version: str,
    store: ObjectStore,
    settings: Settings,
    work: Path,
    chunk_slots: int = 1,
) -> MovieJob:
    """Probe, refuse bad input, plan the ladder and the chunks (at most ``chunk_slots``, the chunk
    tasks the DAG has)."""
    source = _fetch(source_url, movie_id, version, work, store, settings)
    probe = probe_source(source)
    check_limits(probe, max_pixels=settings.max_pixels, max_duration_hours=settings.max_duration_hours)
    ladder = plan_ladder(probe.width, probe.height, settings.rungs)
    if copy_reason(source, probe, ladder[0], settings.segment_seconds) is None:
        ladder[0] = replace(ladder[0], source_copy=True)
    # Chunks cut the frames there are: the last one holds the last frame for as long as the audio goes on.
    frames_end = probe.duration - probe.held_frame_seconds
    chunks = plan_chunks(
        frames_end, chunk_seconds=settings.chunk_seconds, segment_seconds=settings.segment_seconds, slots=chunk_slots
    )
    return MovieJob(movie_id, source_url, expected_url, version, probe, ladder, chunks)


def copy_reason(source: Path, probe: ProbeResult, rung: Rung, segment_seconds: int) -> str | None:
    """Why the top rung must be encoded rather than copied from the source (None: it may be copied)."""
    if probe.video_codec != "h264" or (probe.width, probe.height) != (rung.width, rung.height):
        return "not H.264 at the rung's size"  # the common case, decided without reading the packets
    if probe.held_frame_seconds:
        return f"the video stops {probe.held_frame_seconds:.1f} s before the audio"
    completed = run_ffprobe(commands.stream_packets_args(source, probe.video_index), timeout=600)
    if completed.returncode != 0:
        return f"cannot read the packets: {completed.stderr.strip()}"
    found = json.loads(completed.stdout)
    stream = found["streams"][0]
    times = [(float(p["pts_time"]), "K" in p.get("flags", "")) for p in found["packets"] if p.get("pts_time") not in (None, "N/A")]
    return copy_refusal(
        codec=probe.video_codec, profile=stream.get("profile", ""), pix_fmt=probe.pix_fmt,
        sample_aspect_ratio=stream.get("sample_aspect_ratio", "N/A"), interlaced=probe.interlaced,
        variable_frame_rate=probe.variable_frame_rate, rotation=probe.rotation, size=(probe.width, probe.height),
        video_kbps=probe.video_kbps, frame_rate=probe.fps, packets_per_second=len(times) / probe.duration,
        keyframe_times=[t for t, key in times if key], duration=probe.duration, rung=rung, segment_seconds=segment_seconds,
    )  # fmt: skip


def estimated_output_bytes(rungs: list[Rung], seconds: float, audio_kbps: int) -> int:
    """Renditions at their peak rates, plus the hand-off tar of them: what the work folder must hold."""
    kbps = sum(rung.maxrate_kbps + audio_kbps for rung in rungs)
    return int(kbps * 1000 / 8 * seconds * 2)


def check_free_space(work: Path, needed_bytes: int, settings: Settings) -> None:
    """Fail before encoding rather than after filling the disk; the worker's cache gives way first."""
    if shutil.disk_usage(work).free < needed_bytes:
        worker_cache(work.parent, settings).clear()
    free = shutil.disk_usage(work).free
    if free < needed_bytes:
        raise MigrationError(
            ErrorClass.DISK_FULL, f"the work folder has {free / 1e6:.0f} MB free, the transcode needs about {needed_bytes / 1e6:.0f} MB"
        )


def _codecs(segment: Path, has_audio: bool) -> str:
    """CODECS attribute from what the encoder really produced (profile and level of the stream)."""
    completed = run_ffprobe(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=profile,level",
         "-of", "json", str(segment)]  # fmt: skip
    )
    if completed.returncode != 0:
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, f"cannot read back {segment.name}: {completed.stderr}")
    stream = json.loads(completed.stdout)["streams"][0]
    video = avc_codec_string(stream["profile"], int(stream["level"]))
    return f"{video},{AUDIO_AAC_LC}" if has_audio else video


# Segments per ffprobe call when indexing keyframes: keeps the concat: argument well under the
# kernel's 128 KiB limit for one argument, whatever the movie's length.
KEYFRAME_INDEX_BATCH = 2000


def _video_packets(rung_dir: Path, segments: list[tuple[str, int]]) -> list[VideoPacket]:
    packets: list[VideoPacket] = []
    base = 0
    for start in range(0, len(segments), KEYFRAME_INDEX_BATCH):
        batch = segments[start : start + KEYFRAME_INDEX_BATCH]
        completed = run_ffprobe(commands.keyframe_index_args([name for name, _ in batch]), cwd=rung_dir, timeout=600)
        if completed.returncode != 0:
            raise MigrationError(ErrorClass.TRANSCODE_FAILED, f"cannot index keyframes of {rung_dir.name}: {completed.stderr}")
        for line in completed.stdout.splitlines():
            fields = line.split(",")
            if len(fields) >= 3 and fields[0] not in ("", "N/A") and fields[1].isdigit():
                packets.append(VideoPacket(float(fields[0]), base + int(fields[1]), "K" in fields[2]))
        base += sum(size for _, size in batch)
    return packets


def write_iframe_index(rung_dir: Path, duration: float) -> None:
    """The rung's I-frame playlist, pointing into its own segments."""
    segments = parse_media_playlist((rung_dir / commands.MEDIA_PLAYLIST).read_text())
    sizes = [(s.uri, (rung_dir / s.uri).stat().st_size) for s in segments]
    iframes = locate_iframes(_video_packets(rung_dir, sizes), sizes, duration)
    if not iframes:
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, f"{rung_dir.name} has no keyframe")
    (rung_dir / IFRAME_PLAYLIST).write_text(write_iframe_playlist(iframes))


def assemble_storyboard(plan: StoryboardPlan, tiles_dir: Path, out: Path, duration: float, log: logging.Logger) -> int:
    """Sheets of the tiles the transcode wrote, plus the WebVTT that maps time to tile; returns the tile count."""
    tiles = len(list(tiles_dir.glob("tile_*.jpg")))
    if tiles == 0:
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, "the transcode wrote no storyboard tile")
    if any(not (tiles_dir / (STORYBOARD_TILE_PATTERN % index)).exists() for index in range(tiles)):
        raise MigrationError(ErrorClass.TRANSCODE_FAILED, f"the {tiles} storyboard tiles are not numbered 0 to {tiles - 1}")
    out.mkdir()
    for sheet, start in enumerate(range(0, tiles, plan.tiles_per_sheet)):
        columns, rows = plan.sheet_grid(min(plan.tiles_per_sheet, tiles - start))
        run_ffmpeg(
            commands.tile_sheet_args(
                tiles_dir / STORYBOARD_TILE_PATTERN, out / (STORYBOARD_SHEET_PATTERN % sheet),
                start=start, columns=columns, rows=rows,
            ),  # fmt: skip
            label=f"storyboard sheet {sheet + 1}",
            timeout=120,
            log=log,
        )
    (out / STORYBOARD_VTT).write_text(write_storyboard_vtt(storyboard_cues(plan, tiles, duration)))
    return tiles


def pack(folder: Path, stream: BinaryIO) -> None:
    """A hand-off tar, written to ``stream`` as it is made: ``folder``'s contents at its root."""
    with tarfile.open(fileobj=stream, mode="w|") as tar:
        tar.add(folder, arcname=".")


def hand_over(folder: Path, job: MovieJob, name: str, *, store: ObjectStore, settings: Settings, work: Path) -> None:
    """Upload ``folder`` as the tar ``name`` for the movie's next step (packed while it uploads),
    and move it into this worker's cache for when that step runs here."""
    key = job.work_key(settings, name)
    store.upload_stream(key, lambda stream: pack(folder, stream))
    etag = store.etag(key)
    if etag is not None:
        worker_cache(work.parent, settings).keep(_handoff_entry(job, name, etag), folder)


def receive(job: MovieJob, name: str, target: Path, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger) -> None:
    """The hand-off ``name`` in the folder ``target``: from this worker's cache when it holds exactly
    what storage holds, else downloaded and unpacked."""
    key = job.work_key(settings, name)
    etag = store.etag(key)
    if etag is not None and worker_cache(work.parent, settings).take(_handoff_entry(job, name, etag), target):
        log.info("movie %s: %s taken from this worker's cache", job.movie_id, name)
        return
    tar_path = work / name
    store.download_file(key, tar_path)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")  # "data": no absolute paths, links or devices
    tar_path.unlink()


def discard_handoffs(movie_id: int, *, store: ObjectStore, settings: Settings) -> int:
    """Delete the movie's hand-offs, every attempt's: those of earlier attempts that failed after
    storing some were kept so that clearing their failed tasks could go on from them, which is
    over once the movie plays from HLS or the application changed it. Returns how many objects went."""
    return store.delete_prefix(f"{settings.work_prefix}/{movie_id}")


def discard_unpublished(job: MovieJob, *, store: ObjectStore, settings: Settings) -> int:
    """Delete the set this attempt uploaded and the movie's hand-offs, once the catalog can no longer
    point at them (the application changed the movie meanwhile). Returns how many objects went."""
    return store.delete_prefix(job.output_prefix(settings)) + discard_handoffs(job.movie_id, store=store, settings=settings)


def _handoff_entry(job: MovieJob, name: str, etag: str) -> str:
    return f"{job.movie_id}-{job.version}-{Path(name).stem}-{hashlib.sha256(etag.encode()).hexdigest()[:16]}"


def encoding_options(settings: Settings) -> commands.EncodingOptions:
    return commands.EncodingOptions(
        segment_seconds=settings.segment_seconds,
        keyframe_seconds=settings.keyframe_seconds,
        x264_preset=settings.x264_preset,
        x264_params=settings.x264_params,
        audio_kbps=settings.audio_bitrate_kbps,
    )


def _storyboard_plan(job: MovieJob, settings: Settings) -> StoryboardPlan:
    top = max(job.ladder, key=lambda rung: rung.height)
    return StoryboardPlan.for_source(
        top.width, top.height, interval=settings.storyboard_interval_seconds, tile_width=settings.storyboard_tile_width
    )


def chunk_tar(index: int) -> str:
    return f"chunk_{index:03d}.tar"


def encode_chunk(
    job: MovieJob,
    index: int,
    *,
    store: ObjectStore,
    settings: Settings,
    work: Path,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None = None,
) -> FfmpegUsage:
    """Encode chunk ``index`` of every encoded rung (video only) and its storyboard tiles in one
    ffmpeg process, and hand them over through storage; returns what ffmpeg cost."""
    chunk = job.chunks[index]
    seconds = job.chunk_seconds(chunk)
    source = _fetch(job.source_url, job.movie_id, job.version, work, store, settings)
    check_free_space(work, estimated_output_bytes(job.encoded_rungs, seconds, 0), settings)
    out = work / "chunk"
    for rung in job.encoded_rungs:
        (out / rung.name).mkdir(parents=True)
    (out / TILES_DIR).mkdir(parents=True)
    usage = run_ffmpeg(
        commands.encode_chunk_args(
            source, out, job.probe, job.encoded_rungs, encoding_options(settings), chunk,
            _storyboard_plan(job, settings), out / TILES_DIR,
        ),  # fmt: skip
        label=f"movie {job.movie_id} chunk {index + 1}/{len(job.chunks)} ({chunk.start}-{chunk.start + seconds:.0f} s)",
        timeout=settings.transcode_timeout(seconds),
        total_seconds=seconds,
        log=log,
        on_progress=on_progress,
    )
    hand_over(out, job, chunk_tar(index), store=store, settings=settings, work=work)
    return usage


def _check_chunk_frames(job: MovieJob, chunk: Chunk, video: Path) -> None:
    """Every chunk but the last holds exactly its frames: what makes the joins invisible."""
    expected = job.chunk_frames(chunk)
    if expected is None:
        return
    completed = run_ffprobe(
        ["ffprobe", *commands.QUIET, "-select_streams", "v:0", "-show_entries", "stream=nb_frames", "-of", "csv=p=0", str(video)]
    )
    frames = completed.stdout.strip()
    if completed.returncode != 0 or not frames.isdigit() or int(frames) != expected:
        raise MigrationError(
            ErrorClass.CORRUPT,
            f"chunk {chunk.index + 1} ({chunk.start}-{chunk.end} s) decodes to {frames or 'no'} frames of {expected} (truncated?)",
        )


def package_movie(
    job: MovieJob,
    *,
    store: ObjectStore,
    settings: Settings,
    work: Path,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict:
    """Encode the audio once, lay each rung's chunks end to end into its HLS folder (copying, never
    re-encoding), index the I-frames, assemble the storyboard, and hand the renditions over."""
    copies = any(rung.source_copy for rung in job.ladder)
    needs_source = copies or job.probe.audio_index is not None
    source = _fetch(job.source_url, job.movie_id, job.version, work, store, settings) if needs_source else None
    check_free_space(work, estimated_output_bytes(job.ladder, job.probe.duration, settings.audio_bitrate_kbps), settings)
    chunks_dir, tiles = work / "chunks", work / TILES_DIR
    tiles.mkdir()
    for chunk in job.chunks:
        receive(job, chunk_tar(chunk.index), chunks_dir / str(chunk.index), store=store, settings=settings, work=work, log=log)
        for rung in job.encoded_rungs:
            _check_chunk_frames(job, chunk, chunks_dir / str(chunk.index) / rung.name / commands.CHUNK_VIDEO)
        for tile in (chunks_dir / str(chunk.index) / TILES_DIR).iterdir():
            tile.rename(tiles / tile.name)
    frames = [job.chunk_frames(c) for c in job.chunks]
    durations = [None if count is None else count / job.probe.fps for count in frames]
    concat_lists = {}
    for rung in job.encoded_rungs:
        listing = chunks_dir / f"{rung.name}.ffconcat"
        listing.write_text(
            commands.concat_list([(f"{c.index}/{rung.name}/{commands.CHUNK_VIDEO}", d) for c, d in zip(job.chunks, durations)])
        )
        concat_lists[rung.name] = listing
    options = encoding_options(settings)
    usage = FfmpegUsage()
    audio = None
    if job.probe.audio_index is not None:
        audio = work / "audio.m4a"
        usage += run_ffmpeg(
            commands.audio_args(source, job.probe, options, audio),
            label=f"movie {job.movie_id} audio",
            timeout=settings.transcode_timeout(job.probe.duration),
            log=log,
        )
    out = work / "renditions"
    for rung in job.ladder:
        (out / rung.name).mkdir(parents=True)
    usage += run_ffmpeg(
        commands.stitch_args(out, job.probe, job.ladder, options, concat_lists=concat_lists, source=source if copies else None, audio=audio),
        label=f"movie {job.movie_id} stitch of {len(job.chunks)} chunk(s)",
        timeout=settings.transcode_timeout(job.probe.duration),
        total_seconds=job.probe.duration,
        log=log,
        on_progress=on_progress,
    )
    shutil.rmtree(chunks_dir)
    # One rung's read-back is a chain of single-threaded ffprobe runs: the rungs go side by side.
    with ThreadPoolExecutor(max_workers=len(job.ladder)) as pool:
        renditions = list(pool.map(lambda rung: _read_back_rendition(job, rung, out / rung.name), job.ladder))
    storyboard = _storyboard_plan(job, settings)
    tile_count = assemble_storyboard(storyboard, tiles, out / STORYBOARD_DIR, job.probe.duration, log)
    log.info("movie %s: I-frame playlists for %d rungs, storyboard of %d tiles", job.movie_id, len(job.ladder), tile_count)
    (out / RENDITIONS_INFO).write_text(json.dumps(renditions))
    hand_over(out, job, RENDITIONS_TAR, store=store, settings=settings, work=work)
    return {"renditions": renditions, "usage": usage}


def _read_back_rendition(job: MovieJob, rung: Rung, rung_dir: Path) -> dict:
    """Check that the rung lasts as long as the source, read back its codecs, index its I-frames."""
    segments = parse_media_playlist((rung_dir / commands.MEDIA_PLAYLIST).read_text())
    decoded = sum(s.duration for s in segments)
    if job.probe.duration - decoded > DURATION_TOLERANCE_SECONDS:
        raise MigrationError(
            ErrorClass.CORRUPT,
            f"the source decodes to {decoded:.2f} s of the {job.probe.duration:.2f} s it declares (truncated?)",
        )
    codecs = _codecs(rung_dir / segments[0].uri, job.probe.audio_index is not None)
    write_iframe_index(rung_dir, job.probe.duration)
    return {**rung.to_dict(), "codecs": codecs, "frame_rate": job.probe.frame_rate}


def thumbnail_movie(job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger) -> int:
    """Evenly spaced JPEG thumbnails plus a contact sheet, handed over through storage."""
    source = _fetch(job.source_url, job.movie_id, job.version, work, store, settings)
    handoff = work / "handoff"  # the thumbnails' folder as it will be in the published set
    out = handoff / publishing.THUMBNAIL_DIR
    out.mkdir(parents=True)
    size = commands.thumbnail_size(job.probe, settings.thumbnail_width)
    times = commands.thumbnail_times(job.probe.duration, settings.thumbnail_count, float(job.probe.fps), job.probe.video_end)
    for index, at in enumerate(times):
        target = out / (commands.THUMBNAIL_PATTERN % index)
        run_ffmpeg(
            commands.thumbnail_args(source, target, job.probe, at, size),
            label=f"movie {job.movie_id} thumbnail {index + 1}/{len(times)}",
            timeout=settings.transcode_timeout_base_seconds,
            log=log,
        )
        if not target.exists():
            raise MigrationError(ErrorClass.CORRUPT, f"no frame could be decoded at {at:.2f} s")
    run_ffmpeg(
        commands.contact_sheet_args(out, len(times), out / commands.CONTACT_SHEET),
        label=f"movie {job.movie_id} contact sheet",
        timeout=settings.transcode_timeout_base_seconds,
        log=log,
    )
    hand_over(handoff, job, THUMBNAILS_TAR, store=store, settings=settings, work=work)
    return len(times)


def build_master(renditions: list[dict], folder: Path) -> str:
    """The master playlist for the renditions in ``folder``, with measured bandwidths, and their
    I-frame playlists."""
    variants, iframe_variants = [], []
    for info in renditions:
        rung_dir = folder / info["name"]
        segments = parse_media_playlist((rung_dir / commands.MEDIA_PLAYLIST).read_text())
        sizes = {s.uri: (rung_dir / s.uri).stat().st_size for s in segments}
        peak, average = measure_bandwidth(segments, sizes)
        variants.append(
            Variant(
                uri=f"{info['name']}/{commands.MEDIA_PLAYLIST}",
                width=info["width"],
                height=info["height"],
                frame_rate=Fraction(info["frame_rate"]),
                codecs=info["codecs"],
                peak_bps=peak,
                average_bps=average,
            )
        )
        iframes = parse_iframe_playlist((rung_dir / IFRAME_PLAYLIST).read_text())
        iframe_peak, iframe_average = iframe_bandwidth(iframes)
        iframe_variants.append(
            IFrameVariant(
                uri=f"{info['name']}/{IFRAME_PLAYLIST}",
                width=info["width"],
                height=info["height"],
                codecs=info["codecs"].split(",")[0],
                peak_bps=iframe_peak,
                average_bps=iframe_average,
            )
        )
    return write_master(variants, iframe_variants)


def publish_movie(job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger) -> Published:
    """Upload the renditions and thumbnails under the versioned prefix, master playlist last."""
    folder = work / "publish"
    for name in (RENDITIONS_TAR, THUMBNAILS_TAR):
        receive(job, name, folder, store=store, settings=settings, work=work, log=log)
    renditions = json.loads((folder / RENDITIONS_INFO).read_text())
    (folder / RENDITIONS_INFO).unlink()
    (folder / publishing.MASTER_PLAYLIST).write_text(build_master(renditions, folder))

    files = publishing.local_files(folder)
    prefix = job.output_prefix(settings)
    for group in publishing.publish_order(list(files)):
        store.upload_many(
            [(folder / path, f"{prefix}/{path}", publishing.object_headers(path)) for path in group],
            settings.upload_concurrency,
        )
        log.info("movie %s: uploaded %d objects under %s", job.movie_id, len(group), prefix)
    store.put_text(job.work_key(settings, MANIFEST), json.dumps(files), {"ContentType": "application/json"})
    return Published(prefix, job.master_url(settings), len(files), sum(files.values()))


def verify_movie(job: MovieJob, *, store: ObjectStore, settings: Settings) -> VerifiedSet:
    """Check the stored set against the upload manifest, the playlists and the source duration."""
    prefix = job.output_prefix(settings)
    expected = json.loads(store.read_text(job.work_key(settings, MANIFEST)))
    stored = store.list_sizes(prefix)
    master = store.read_text(f"{prefix}/{publishing.MASTER_PLAYLIST}")
    media = {
        path: store.read_text(f"{prefix}/{path}")
        for path in expected
        if path.endswith(".m3u8") and path != publishing.MASTER_PLAYLIST and path in stored
    }
    storyboard_key = f"{prefix}/{STORYBOARD_DIR}/{STORYBOARD_VTT}"
    storyboard = store.read_text(storyboard_key) if f"{STORYBOARD_DIR}/{STORYBOARD_VTT}" in stored else None
    return verify_hls_set(
        stored=stored, expected=expected, master_text=master, media_texts=media,
        source_duration=job.probe.duration, storyboard_text=storyboard,
    )  # fmt: skip
