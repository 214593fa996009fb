"""The video codecs a ladder may have, described by data: what differs between H.264 and HEVC is
one row each here, not an ``if`` in every module that meets a rung."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoCodec:
    name: str  # as hls_video_codecs and each rung name it
    encoder: str  # ffmpeg's encoder, which the preflight checks ffmpeg has
    rung_suffix: str  # after the name of a rung of this codec: "720p-hevc" (H.264's rungs have none)
    # The MP4 sample entry to force on copy, where the muxer's default is not the one Apple's
    # players take (HEVC: hvc1, not hev1); None: the default is right.
    sample_entry: str | None
    # Added to hls_crf in quality mode: x265's CRF scale sits higher than x264's (its default 28
    # looks about like x264's 23, FFmpeg's H.265 guide).
    crf_offset: int
    # CPU per encoded pixel against x264's, at the shipped presets: bench/ladder.py measured the
    # HEVC twins (x265 slow) at 5.7 times the encode time of their H.264 rungs (362 against 63 s).
    encode_cost: float
    # Its rungs keep an HDR source's range (HEVC Main10: HDR10 for PQ, HLG), as Apple asks of HDR
    # variants; otherwise they are the source tone-mapped to SDR, which every player shows right.
    keeps_hdr: bool
    fmp4_only: bool  # Apple's rule 1.5: HEVC only in fMP4 segments


H264 = VideoCodec("h264", "libx264", "", None, 0, 1.0, keeps_hdr=False, fmp4_only=False)
HEVC = VideoCodec("hevc", "libx265", "-hevc", "hvc1", 5, 5.7, keeps_hdr=True, fmp4_only=True)
# The codecs a ladder may have: H.264 always (Apple: some video SHOULD be H.264, for the players
# that decode nothing else), HEVC beside it on request.
VIDEO_CODECS = {codec.name: codec for codec in (H264, HEVC)}
