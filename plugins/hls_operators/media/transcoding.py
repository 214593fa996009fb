"""The ladder's renditions, made on local folders: each chunk encoded for every rung in one ffmpeg
process, then the chunks stitched into HLS with the audio, and read back."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hls_operators.core import commands, layout, package_commands, probe_commands
from hls_operators.core.chunks import Chunk
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import MovieJob
from hls_operators.core.ladder import Rung, redundant_rungs
from hls_operators.core.layout import STORYBOARD_DIR
from hls_operators.core.playlists import parse_map_uri, parse_media_playlist
from hls_operators.core.probe import video_range
from hls_operators.core.renditions import Renditions, VideoRendition, published_renditions
from hls_operators.core.verify import DURATION_TOLERANCE_SECONDS
from hls_operators.core.video_codecs import VIDEO_CODECS, avc_codec_string, hevc_codec_string
from hls_operators.edges.ffmpeg import FfmpegUsage, Progress, run_ffmpeg, run_ffprobe
from hls_operators.media.previews import assemble_storyboard, write_iframe_index
from hls_operators.media.tracks import write_subtitle_rendition
from hls_operators.settings import Settings

TILES_DIR = "tiles"  # a chunk's storyboard tiles, beside its rungs' videos


def encode_chunk_files(
    source: Path,
    job: MovieJob,
    index: int,
    out: Path,
    *,
    settings: Settings,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None = None,
) -> FfmpegUsage:
    """Chunk ``index`` of every encoded rung (video only, ``out/<rung>/video.mp4``) and its
    storyboard tiles (``out/tiles/``), from one decode in one ffmpeg process."""
    chunk = job.chunks[index]
    seconds = job.chunk_seconds(chunk)
    for rung in job.encoded_rungs:
        (out / rung.name).mkdir(parents=True)
    (out / TILES_DIR).mkdir(parents=True)
    top = job.top_rung
    return run_ffmpeg(
        commands.encode_chunk_args(
            source,
            out,
            job.probe,
            job.encoded_rungs,
            settings.encoding,
            chunk,
            settings.storyboard_plan(top.width, top.height),
            out / TILES_DIR,
        ),
        label=f"movie {job.movie_id} chunk {index + 1}/{len(job.chunks)} ({chunk.start}-{chunk.start + seconds:.0f} s)",
        timeout=settings.transcode_timeout(seconds),
        memory_limit_bytes=settings.transcode_memory_limit_bytes,
        total_seconds=seconds,
        log=log,
        on_progress=on_progress,
    )


def encode_audio_files(
    source: Path, job: MovieJob, out: Path, *, settings: Settings, log: logging.Logger
) -> FfmpegUsage:
    """Each audio track of the source encoded once for every variant, into ``out/audio_N.m4a``
    (``audio_files``): its own task, beside the chunk encodes."""
    out.mkdir(parents=True)
    usage = FfmpegUsage()
    for number, (track, target) in enumerate(zip(job.probe.audio_tracks, audio_files(job, out))):
        usage += run_ffmpeg(
            commands.audio_args(source, track, settings.encoding, target, job.probe.duration),
            label=f"movie {job.movie_id} audio track {number + 1}/{len(job.probe.audio_tracks)}",
            timeout=settings.transcode_timeout(job.probe.duration),
            memory_limit_bytes=settings.transcode_memory_limit_bytes,
            log=log,
        )
    return usage


def audio_files(job: MovieJob, folder: Path) -> list[Path]:
    """Where ``encode_audio_files`` puts each audio track in ``folder``, in the source's order."""
    return [folder / f"{layout.audio_rendition(number)}.m4a" for number in range(len(job.probe.audio_tracks))]


def package_renditions(
    job: MovieJob,
    chunks_dir: Path,
    audios: list[Path],
    source: Path | None,
    out: Path,
    *,
    settings: Settings,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None = None,
) -> tuple[Renditions, FfmpegUsage]:
    """From the encoded chunks in ``chunks_dir/<index>/`` (removed once stitched): each rung's chunks
    laid end to end into its video-only HLS folder ``out/<rung>/`` (copying, never re-encoding; the
    copied rung from ``source``) with its I-frame playlist; each encoded audio track (``audios``)
    cut into its rendition ``out/audio_N/``; each text subtitle track as WebVTT on the same segment
    grid in ``out/subs_N/``; and the storyboard. Returns the renditions as the ledger and the
    master playlist need them, and what ffmpeg cost."""
    chunks = _gather_chunks(job, chunks_dir)
    dropped = {**job.dropped, **(redundant_rungs(job.ladder, chunks.kbps) if settings.encoding.crf is not None else {})}
    ladder = [rung for rung in job.ladder if rung.name not in dropped]
    usage = _stitch(job, ladder, chunks, audios, source, out, settings=settings, log=log, on_progress=on_progress)
    video = _read_back(job, ladder, out)
    for number, track in enumerate(job.probe.subtitle_tracks):
        usage += write_subtitle_rendition(
            job, number, track, source, out, chunks.tiles.parent, log, settings.transcode_memory_limit_bytes
        )
    top = job.top_rung
    plan = settings.storyboard_plan(top.width, top.height)
    tiles = assemble_storyboard(plan, chunks.tiles, out / STORYBOARD_DIR, job.probe.duration, log)
    for name, reason in dropped.items():
        log.info("movie %s: rung %s dropped, %s", job.movie_id, name, reason)
    log.info("movie %s: I-frame playlists for %d rungs, storyboard of %d tiles", job.movie_id, len(ladder), tiles)
    return published_renditions(job.probe, video, dropped), usage


@dataclass(frozen=True)
class GatheredChunks:
    """The encoded chunks, checked and ready to stitch."""

    folder: Path  # ``<index>/<rung>/video.mp4`` for every chunk and encoded rung
    concat_lists: dict[str, Path]  # encoded rung: its chunks in order, as an ffconcat listing
    kbps: dict[str, float]  # encoded rung: its average video bitrate
    tiles: Path  # every chunk's storyboard tiles, in one folder


def _gather_chunks(job: MovieJob, chunks_dir: Path) -> GatheredChunks:
    """Each encoded rung's chunks measured, checked to hold their frames and listed in order for the
    stitch; the chunks' storyboard tiles moved into one folder beside ``chunks_dir``."""
    tiles = chunks_dir.parent / TILES_DIR
    tiles.mkdir()
    for chunk in job.chunks:
        for tile in (chunks_dir / str(chunk.index) / TILES_DIR).iterdir():
            tile.rename(tiles / tile.name)
    videos = {
        rung.name: [chunks_dir / str(c.index) / rung.name / commands.CHUNK_VIDEO for c in job.chunks]
        for rung in job.encoded_rungs
    }
    kbps = {
        name: sum(v.stat().st_size for v in files) * 8 / 1000 / job.probe.duration for name, files in videos.items()
    }
    # The last chunk runs to the movie's end: there is no count to hold it to.
    for files in videos.values():
        for chunk, video in zip(job.chunks[:-1], files):
            _check_chunk_frames(job, chunk, video)
    frames = [job.chunk_frames(c) for c in job.chunks]
    durations = [None if count is None else count / job.probe.fps for count in frames]
    concat_lists = {}
    for name, files in videos.items():
        listing = chunks_dir / f"{name}.ffconcat"
        listing.write_text(
            package_commands.concat_list([(str(v.relative_to(chunks_dir)), d) for v, d in zip(files, durations)])
        )
        concat_lists[name] = listing
    return GatheredChunks(chunks_dir, concat_lists, kbps, tiles)


def _stitch(
    job: MovieJob,
    ladder: list[Rung],
    chunks: GatheredChunks,
    audios: list[Path],
    source: Path | None,
    out: Path,
    *,
    settings: Settings,
    log: logging.Logger,
    on_progress: Callable[[Progress], None] | None,
) -> FfmpegUsage:
    """One ffmpeg process lays each kept rung's chunks end to end (or copies the source's video) and
    cuts each audio track, into their folders under ``out``; the chunks are removed after."""
    for name in [rung.name for rung in ladder] + [layout.audio_rendition(n) for n in range(len(audios))]:
        (out / name).mkdir(parents=True)
    copies = any(rung.source_copy for rung in ladder)
    usage = run_ffmpeg(
        package_commands.stitch_args(
            out,
            job.probe,
            ladder,
            settings.encoding,
            concat_lists={rung.name: chunks.concat_lists[rung.name] for rung in ladder if not rung.source_copy},
            source=source if copies else None,
            audios=audios,
        ),
        label=f"movie {job.movie_id} stitch of {len(job.chunks)} chunk(s)",
        timeout=settings.transcode_timeout(job.probe.duration),
        memory_limit_bytes=settings.transcode_memory_limit_bytes,
        total_seconds=job.probe.duration,
        log=log,
        on_progress=on_progress,
    )
    shutil.rmtree(chunks.folder)
    return usage


def _read_back(job: MovieJob, ladder: list[Rung], out: Path) -> list[VideoRendition]:
    """Every stitched rung read back, side by side: one rung's read-back is a chain of
    single-threaded ffprobe runs."""
    with ThreadPoolExecutor(max_workers=len(ladder)) as pool:
        return list(pool.map(lambda rung: _read_back_rendition(job, rung, out / rung.name), ladder))


def _check_chunk_frames(job: MovieJob, chunk: Chunk, video: Path) -> None:
    """The chunk holds exactly its frames: what makes the joins invisible."""
    completed = run_ffprobe(probe_commands.frame_count_args(video))
    frames = completed.stdout.strip()
    expected = job.chunk_frames(chunk)
    if completed.returncode != 0 or not frames.isdigit() or int(frames) != expected:
        raise MigrationError(
            ErrorClass.CORRUPT,
            f"chunk {chunk.index + 1} ({chunk.start}-{chunk.end} s) decodes to {frames or 'no'} frames of {expected} (truncated?)",
        )


def _read_back_rendition(job: MovieJob, rung: Rung, rung_dir: Path) -> VideoRendition:
    """Check that the rung lasts as long as the source, read back its codecs, index its I-frames."""
    playlist = (rung_dir / layout.MEDIA_PLAYLIST).read_text()
    segments = parse_media_playlist(playlist)
    decoded = sum(s.duration for s in segments)
    if job.probe.duration - decoded > DURATION_TOLERANCE_SECONDS:
        raise MigrationError(
            ErrorClass.CORRUPT,
            f"the source decodes to {decoded:.2f} s of the {job.probe.duration:.2f} s it declares (truncated?)",
        )
    init = parse_map_uri(playlist)
    from_init = VIDEO_CODECS[rung.codec].codecs_from_init
    # An HDR source's rungs say which range they are (VIDEO-RANGE), as their streams are tagged.
    stream = _video_stream(rung_dir, segments[0].uri, init) if not from_init or job.probe.hdr else {}
    codecs = _hevc_codecs(rung_dir, init) if from_init else avc_codec_string(stream["profile"], int(stream["level"]))
    write_iframe_index(rung_dir, job.probe.duration)
    # An HDR source's rungs each say their range; an SDR source's say none.
    video_range_ = video_range(stream.get("color_transfer")) if job.probe.hdr else None
    return VideoRendition(rung, codecs, job.probe.frame_rate, video_range_)


def _video_stream(rung_dir: Path, segment: str, init: str | None) -> dict:
    """What the encoder really produced (profile, level, colour transfer), for CODECS and VIDEO-RANGE."""
    completed = run_ffprobe(probe_commands.video_profile_args(segment, init), cwd=rung_dir)
    if completed.returncode != 0:
        raise MigrationError(
            ErrorClass.TRANSCODE_FAILED, f"cannot read back {rung_dir.name}/{segment}: {completed.stderr}"
        )
    return json.loads(completed.stdout)["streams"][0]


def _hevc_codecs(rung_dir: Path, init: str | None) -> str:
    """The HEVC video's CODECS from its initialization section (HEVC is only ever fMP4)."""
    try:
        return hevc_codec_string((rung_dir / (init or layout.INIT_SECTION)).read_bytes())
    except (OSError, ValueError) as error:
        raise MigrationError(
            ErrorClass.TRANSCODE_FAILED, f"cannot read back the HEVC codec of {rung_dir.name}: {error}"
        ) from None
