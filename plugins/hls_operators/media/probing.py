"""Reading a local source: ffprobe's report, the refusals, and the plan of one conversion."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from hls_operators.core import probe_commands
from hls_operators.core.chunks import plan_chunks
from hls_operators.core.job import MovieJob
from hls_operators.core.ladder import Rung, plan_ladder, with_hevc_rungs
from hls_operators.core.probe import (
    ProbeResult,
    parse_compact_line,
    parse_framecrc_times,
    parse_hdr10_metadata,
    parse_probe,
)
from hls_operators.core.refusals import check_limits, check_not_encrypted, classify_probe_failure
from hls_operators.core.source_copy import copy_refusal
from hls_operators.core.video_codecs import HEVC
from hls_operators.edges.ffmpeg import run_ffprobe
from hls_operators.media.per_title import per_title_ladder
from hls_operators.settings import Settings


def probe_file(path: Path) -> ProbeResult:
    """ffprobe a local file; classified errors for anything that is not a readable MP4 video."""
    with path.open("rb") as handle:
        head = handle.read(64)
    completed = run_ffprobe(probe_commands.probe_args(path))
    if completed.returncode != 0 or not head:
        raise classify_probe_failure(head, completed.stderr, str(path))
    probe = parse_probe(json.loads(completed.stdout), file_size=path.stat().st_size)
    with path.open("rb") as handle:
        check_not_encrypted(handle)
    if probe.video_range == "PQ":
        first = run_ffprobe(probe_commands.first_frame_args(path, probe.video_index))
        if first.returncode == 0:  # without it, the HDR10 rungs go without static metadata
            master_display, max_cll = parse_hdr10_metadata(json.loads(first.stdout))
            probe = replace(probe, master_display=master_display, max_cll=max_cll)
    return probe


def plan_movie(
    source: Path,
    *,
    movie_id: int,
    source_url: str,
    expected_url: str,
    version: str,
    settings: Settings,
    chunk_slots: int | None = None,
) -> MovieJob:
    """Probe ``source``, refuse bad input, plan the ladder (copying the top rung where the source
    allows; HEVC twins where the settings ask for them) and the chunks: as many as the movie's
    length asks for, or at most ``chunk_slots`` (1: one whole encode, which the chunking tests and
    benchmarks compare chunks against)."""
    probe = probe_file(source)
    check_limits(
        probe,
        max_pixels=settings.max_pixels,
        max_duration_hours=settings.max_duration_hours,
        max_tracks=settings.max_tracks,
    )
    ladder = plan_ladder(probe.width, probe.height, settings.rungs)
    if source_copy_refusal(source, probe, ladder[0], settings.segment_seconds) is None:
        ladder[0] = replace(ladder[0], source_copy=True, reason=f"{ladder[0].reason}; the source's own stream, copied")
    dropped: dict[str, str] = {}
    if settings.rate_control == "per_title":
        ladder, dropped = per_title_ladder(source, probe, ladder, settings, logging.getLogger(__name__))
    if HEVC.name in settings.codecs:
        ladder = with_hevc_rungs(ladder)
    # Chunks cut the frames there are: the last one holds the last frame for as long as the audio goes on.
    frames_end = probe.duration - probe.held_frame_seconds
    chunks = plan_chunks(
        frames_end, chunk_seconds=settings.chunk_seconds, segment_seconds=settings.segment_seconds, slots=chunk_slots
    )
    return MovieJob(movie_id, source_url, expected_url, version, probe, ladder, chunks, dropped)


def source_copy_refusal(source: Path, probe: ProbeResult, rung: Rung, segment_seconds: int) -> str | None:
    """Why ``rung`` must be encoded rather than copied from ``source`` (None: it may be copied)."""
    if probe.video_codec != "h264" or (probe.width, probe.height) != (rung.width, rung.height):
        return "not H.264 at the rung's size"  # the common case, decided without reading the packets
    if probe.held_frame_seconds:
        return f"the video stops {probe.held_frame_seconds:.1f} s before the audio"
    if probe.hdr:
        return f"HDR ({probe.color_transfer}): the H.264 rungs are tone-mapped to SDR"
    listing = _PacketListing()
    completed = run_ffprobe(
        probe_commands.stream_packets_args(source, probe.video_index), timeout=600, on_line=listing.read
    )
    if completed.returncode != 0:
        return f"cannot read the packets: {completed.stderr.strip()}"
    stream = listing.stream
    idr = run_ffprobe(probe_commands.idr_packets_args(source, probe.video_index), timeout=600)
    if idr.returncode != 0:
        return f"cannot find the IDR frames: {idr.stderr.strip()}"
    return copy_refusal(
        codec=probe.video_codec,
        profile=stream.get("profile", ""),
        pix_fmt=probe.pix_fmt,
        sample_aspect_ratio=stream.get("sample_aspect_ratio", "N/A"),
        interlaced=probe.interlaced,
        variable_frame_rate=probe.variable_frame_rate,
        rotation=probe.rotation,
        size=(probe.width, probe.height),
        video_kbps=probe.video_kbps,
        frame_rate=probe.fps,
        packets_per_second=listing.packets / probe.duration,
        level=int(stream.get("level") or 0),
        reference_frames=int(stream.get("refs") or 0),
        keyframe_times=listing.keyframe_times,
        idr_times=parse_framecrc_times(idr.stdout),
        duration=probe.duration,
        rung=rung,
        segment_seconds=segment_seconds,
    )


@dataclass
class _PacketListing:
    """What the video's packet listing says, read a line at a time as ffprobe writes it: the
    stream's fields, how many packets have a time, and the keyframes' times."""

    stream: dict[str, str] = field(default_factory=dict)
    packets: int = 0
    keyframe_times: list[float] = field(default_factory=list)

    def read(self, line: str) -> None:
        section, values = parse_compact_line(line)
        if section == "stream":
            self.stream = values
        elif section == "packet" and values.get("pts_time") not in (None, "", "N/A"):
            self.packets += 1
            if "K" in values.get("flags", ""):
                self.keyframe_times.append(float(values["pts_time"]))
