"""A probe result as the probe step would read it from a plain H.264 MP4, for tests that need one
without probing a file: the defaults are a 60 s 1080p30 movie with 5.1 sound; pass what differs."""

from __future__ import annotations

from hls_operators.core.probe import ProbeResult


def make_probe(**overrides) -> ProbeResult:
    values = dict(
        format_name="mov,mp4",
        duration=60.0,
        size_bytes=1,
        video_index=1,
        video_codec="h264",
        width=1920,
        height=1080,
        rotation=0,
        pix_fmt="yuv420p",
        frame_rate="30",
        variable_frame_rate=False,
        interlaced=False,
        video_kbps=4000,
        audio_index=0,
        audio_codec="aac",
        audio_channels=6,
    )
    values.update(overrides)
    return ProbeResult(**values)
