"""The video codecs a ladder may have, described by data: what differs between H.264 and HEVC is
one row each here, not an ``if`` in every module that meets a rung; and the RFC 6381 codec strings
the master playlist declares for them, read from the streams."""

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
    # Where its CODECS string is read from: the init section's decoder configuration (HEVC: its
    # profile space, tier and constraint flags, which ffprobe does not report), or else the
    # stream's profile and level as ffprobe reports them (H.264).
    codecs_from_init: bool


H264 = VideoCodec("h264", "libx264", "", None, 0, 1.0, keeps_hdr=False, fmp4_only=False, codecs_from_init=False)
HEVC = VideoCodec("hevc", "libx265", "-hevc", "hvc1", 5, 5.7, keeps_hdr=True, fmp4_only=True, codecs_from_init=True)
# The codecs a ladder may have: H.264 always (Apple: some video SHOULD be H.264, for the players
# that decode nothing else), HEVC beside it on request.
VIDEO_CODECS = {codec.name: codec for codec in (H264, HEVC)}


AUDIO_AAC_LC = "mp4a.40.2"


# RFC 6381 video codec strings by sample entry: parameter sets out of band (avc1, hvc1) or in band.
H264_CODECS = ("avc1.", "avc3.")


HEVC_CODECS = ("hvc1.", "hev1.")


# First two bytes of avc1.PPCCLL: profile_idc and constraint flags, per H.264 profile name.
AVC_PROFILE_PREFIX = {
    "Constrained Baseline": "42E0",
    "Baseline": "4200",
    "Main": "4D40",
    "High": "6400",
}


def avc_codec_string(profile: str, level: int) -> str:
    """RFC 6381 codec string for H.264, e.g. ("High", 40) -> "avc1.640028"."""
    try:
        prefix = AVC_PROFILE_PREFIX[profile]
    except KeyError:
        raise ValueError(f"unexpected H.264 profile {profile!r}") from None
    return f"avc1.{prefix}{level:02X}"


def hevc_codec_string(init_section: bytes) -> str:
    """RFC 6381 codec string of the HEVC video in an fMP4 Media Initialization Section, read from
    its sample entry and HEVC decoder configuration record (ISO/IEC 14496-15 E.3): for x265's Main
    at Level 4 in progressive frames, "hvc1.1.6.L120.90"."""
    stsd = init_section.find(b"stsd")
    record = init_section.find(b"hvcC", stsd) + 4
    if stsd < 0 or record < 4 or len(init_section) < record + 13:
        raise ValueError("no HEVC decoder configuration record in the initialization section")
    sample_entry = init_section[stsd + 16 : stsd + 20].decode("ascii", "replace")  # after version, flags and count
    space_tier_profile, level = init_section[record + 1], init_section[record + 12]
    compatibility = int.from_bytes(init_section[record + 2 : record + 6], "big")
    constraints = init_section[record + 6 : record + 12].rstrip(b"\0")
    space = "" if space_tier_profile >> 6 == 0 else "ABC"[(space_tier_profile >> 6) - 1]
    reversed_compatibility = int(f"{compatibility:032b}"[::-1], 2)
    tier = "H" if space_tier_profile & 0x20 else "L"
    parts = [sample_entry, f"{space}{space_tier_profile & 0x1F}", f"{reversed_compatibility:X}", f"{tier}{level}"]
    return ".".join(parts + [f"{byte:X}" for byte in constraints])
