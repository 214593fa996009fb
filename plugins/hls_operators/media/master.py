"""The master playlist of a set on local disk, with bandwidths measured from its own files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from hls_operators.core import commands
from hls_operators.core.playlists import (
    IFrameVariant,
    Variant,
    measure_bandwidth,
    parse_media_playlist,
    parse_target_duration,
    write_master,
)
from hls_operators.core.trickplay import IFRAME_PLAYLIST, iframe_bandwidth, parse_iframe_playlist


def build_master(renditions: list[dict], folder: Path) -> str:
    """The master playlist for the renditions in ``folder``, with measured bandwidths, and their
    I-frame playlists."""
    variants, iframe_variants = [], []
    for info in renditions:
        rung_dir = folder / info["name"]
        playlist = (rung_dir / commands.MEDIA_PLAYLIST).read_text()
        segments = parse_media_playlist(playlist)
        sizes = {s.uri: (rung_dir / s.uri).stat().st_size for s in segments}
        peak, average = measure_bandwidth(segments, sizes, parse_target_duration(playlist))
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
        iframe_playlist = (rung_dir / IFRAME_PLAYLIST).read_text()
        iframe_peak, iframe_average = iframe_bandwidth(parse_iframe_playlist(iframe_playlist), parse_target_duration(iframe_playlist))
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


def local_files(root: Path) -> dict[str, int]:
    """``{relative posix path: size}`` for every file below ``root``: the set as it will be uploaded."""
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}
