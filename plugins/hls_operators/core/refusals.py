"""Refusing bad input before any decoding: a file that is no MP4 at all, an encrypted track (read
from the MP4's own boxes, which ffprobe does not report), what ffprobe's failure says of the
source, and sources over the size, duration and track limits. Each refusal is a classified
``MigrationError``: bad input, never retried."""

from __future__ import annotations

import struct
from typing import BinaryIO

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.probe import ProbeResult

# ISO base media (MP4/MOV) files are a sequence of boxes; the first box type sits at bytes 4-8.
ISO_BMFF_BOX_TYPES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}


def looks_like_iso_bmff(head: bytes) -> bool:
    """True when the first bytes are an MP4/MOV box header, whatever the file is named."""
    return len(head) >= 8 and head[4:8] in ISO_BMFF_BOX_TYPES


# Boxes on the way from the file to the sample descriptions (moov/trak/mdia/minf/stbl/stsd).
CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


# Sample entries of protected (CENC, FairPlay, ...) tracks: ffprobe reports the original codec of
# these, and decoding them "works" but yields garbage, so they must be found here.
ENCRYPTED_SAMPLE_ENTRIES = {b"encv", b"enca", b"drmi", b"drms"}


def _boxes(handle: BinaryIO, start: int, end: int):
    """(type, payload start, payload end) of each box between ``start`` and ``end``."""
    position = start
    while position + 8 <= end:
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        payload = position + 8
        if size == 1:
            large = handle.read(8)
            if len(large) < 8:
                return
            size = struct.unpack(">Q", large)[0]
            payload += 8
        elif size == 0:
            size = end - position
        if size < payload - position:
            return  # malformed: stop rather than loop
        yield kind, payload, min(position + size, end)
        position += size


def sample_entry_types(handle: BinaryIO) -> set[bytes]:
    """The sample entry types (avc1, mp4a, encv, ...) of every track of an MP4/MOV file."""
    handle.seek(0, 2)
    found: set[bytes] = set()

    def walk(start: int, end: int) -> None:
        for kind, payload, box_end in _boxes(handle, start, end):
            if kind in CONTAINER_BOXES:
                walk(payload, box_end)
            elif kind == b"stsd":
                # full box header (4) and entry count (4), then one box per sample entry
                found.update(entry for entry, _, _ in _boxes(handle, payload + 8, box_end))

    walk(0, handle.tell())
    return found


def check_not_encrypted(handle: BinaryIO) -> None:
    protected = sample_entry_types(handle) & ENCRYPTED_SAMPLE_ENTRIES
    if protected:
        kinds = ", ".join(sorted(k.decode("ascii", "replace") for k in protected))
        raise MigrationError(ErrorClass.UNSUPPORTED, f"the source is encrypted (DRM sample entries: {kinds})")


def classify_probe_failure(head: bytes, stderr: str, local_path: str = "") -> MigrationError:
    """Turn a failed ffprobe into ``corrupt`` (an MP4 that is broken) or ``not_video`` (not an MP4)."""
    detail = stderr.strip().splitlines()[-1] if stderr.strip() else "ffprobe could not read the file"
    if local_path:
        detail = detail.replace(f"{local_path}: ", "").replace(local_path, "the source")  # worker paths mean nothing
    if not head:
        return MigrationError(ErrorClass.CORRUPT, "the source file is empty (0 bytes)")
    if looks_like_iso_bmff(head):
        return MigrationError(ErrorClass.CORRUPT, f"broken MP4 container: {detail}")
    return MigrationError(ErrorClass.NOT_VIDEO, f"not an MP4/MOV file: {detail}")


def check_limits(probe: ProbeResult, *, max_pixels: int, max_duration_hours: float, max_tracks: int) -> None:
    """Refuse sources we will not convert, before any decoding is spent on them."""
    for kind, tracks in (("audio", probe.audio_tracks), ("subtitle", probe.subtitle_tracks + probe.image_subtitles)):
        if len(tracks) > max_tracks:
            # each is an encode or an extraction and a rendition: a file of a thousand tracks is an attack
            raise MigrationError(ErrorClass.UNSUPPORTED, f"{len(tracks)} {kind} tracks, over the limit of {max_tracks}")
    if probe.width <= 0 or probe.height <= 0:
        raise MigrationError(ErrorClass.CORRUPT, "the video stream reports no frame size")
    # Both sizes: a frame's pixel aspect may shrink its display size (16384x16384 at 1:8 shows as
    # 2048x16384) while the decoder still holds every coded pixel, or stretch it past the limit.
    for width, height in ((probe.coded_width, probe.coded_height), (probe.width, probe.height)):
        if width * height > max_pixels:
            raise MigrationError(
                ErrorClass.UNSUPPORTED, f"frame {width}x{height} exceeds the limit of {max_pixels} pixels"
            )
    if probe.duration <= 0:
        raise MigrationError(ErrorClass.CORRUPT, "the source reports no duration")
    if probe.duration > max_duration_hours * 3600:
        raise MigrationError(
            ErrorClass.UNSUPPORTED, f"duration {probe.duration:.0f} s exceeds the limit of {max_duration_hours} h"
        )
    if probe.video_codec in ("unknown", "none", ""):
        raise MigrationError(ErrorClass.UNSUPPORTED, "the video codec is not one ffmpeg can decode")
