"""The master playlist of a set on local disk, with bandwidths measured from its own files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hls_operators.core import layout
from hls_operators.core.layout import IFRAME_PLAYLIST
from hls_operators.core.playlists import (
    IFrameVariant,
    Rendition,
    Variant,
    measure_bandwidth,
    parse_media_playlist,
    parse_target_duration,
    write_master,
)
from hls_operators.core.renditions import Renditions
from hls_operators.core.trickplay import iframe_bandwidth, parse_iframe_playlist
from hls_operators.core.video_codecs import AUDIO_AAC_LC


def playlist_bandwidth(folder: Path) -> tuple[int, int]:
    """(peak, average) of the media playlist in ``folder``, measured from its segments' sizes."""
    playlist = (folder / layout.MEDIA_PLAYLIST).read_text()
    segments = parse_media_playlist(playlist)
    sizes = {s.uri: (folder / s.uri).stat().st_size for s in segments}
    return measure_bandwidth(segments, sizes, parse_target_duration(playlist))


def build_master(renditions: Renditions, folder: Path) -> str:
    """The master playlist for the renditions in ``folder`` (as ``package_renditions`` describes
    them): the audio and subtitle groups, the variants with measured bandwidths (each the sum of
    its video's and its largest audio and subtitle renditions', as RFC 8216 asks of a variant whose
    renditions play beside it), and the I-frame playlists."""
    media = []
    extra_peak = extra_average = 0
    for kind, tracks in (("AUDIO", renditions.audio), ("SUBTITLES", renditions.subtitles)):
        measured = [playlist_bandwidth(folder / track.name) for track in tracks]
        extra_peak += max((peak for peak, _ in measured), default=0)
        extra_average += max((average for _, average in measured), default=0)
        media += [
            Rendition(
                kind=kind,
                uri=f"{track.name}/{layout.MEDIA_PLAYLIST}",
                name=track.label,
                language=track.language,
                default=track.default,
                forced=track.forced,
                channels=track.channels,
            )
            for track in tracks
        ]
    audio_codec = f",{AUDIO_AAC_LC}" if renditions.audio else ""
    variants, iframe_variants = [], []
    for video in renditions.video:
        rung_dir = folder / video.name
        peak, average = playlist_bandwidth(rung_dir)
        variants.append(
            Variant(
                uri=f"{video.name}/{layout.MEDIA_PLAYLIST}",
                width=video.rung.width,
                height=video.rung.height,
                frame_rate=Fraction(video.frame_rate),
                codecs=video.codecs + audio_codec,
                peak_bps=peak + extra_peak,
                average_bps=average + extra_average,
                video_range=video.video_range,
            )
        )
        iframe_playlist = (rung_dir / IFRAME_PLAYLIST).read_text()
        iframe_peak, iframe_average = iframe_bandwidth(
            parse_iframe_playlist(iframe_playlist), parse_target_duration(iframe_playlist)
        )
        iframe_variants.append(
            IFrameVariant(
                uri=f"{video.name}/{IFRAME_PLAYLIST}",
                width=video.rung.width,
                height=video.rung.height,
                codecs=video.codecs,
                peak_bps=iframe_peak,
                average_bps=iframe_average,
                video_range=video.video_range,
            )
        )
    return write_master(variants, iframe_variants, media, closed_captions=renditions.closed_captions)


def local_files(root: Path) -> dict[str, int]:
    """``{relative posix path: size}`` for every file below ``root``: the set as it will be uploaded."""
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}
