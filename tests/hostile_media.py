"""Odd and hostile source files, generated with ffmpeg (nothing here reaches the network).

``CONVERTIBLE`` sources must convert; ``REFUSED`` ones must end in the given error class.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devenv import media

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast"]


def ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True)


def lavfi_movie(
    path: Path,
    *,
    video_args: list[str],
    size: str = "320x240",
    seconds: float = 2,
    rate: int = 25,
    audio_tracks: int = 0,
    default_audio: int = 0,
    audio_seconds: float | None = None,
) -> Path:
    """A test movie from lavfi with any video encoder options and 0..n audio tracks (as long as the
    video unless ``audio_seconds`` says otherwise)."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    for track in range(audio_tracks):
        args += ["-f", "lavfi", "-i", f"sine=frequency={440 * (track + 1)}:duration={audio_seconds or seconds}"]
    args += ["-map", "0:v"] + [arg for track in range(audio_tracks) for arg in ("-map", f"{track + 1}:a")]
    args += video_args
    if audio_tracks:
        args += ["-c:a", "aac"] + [
            arg
            for track in range(audio_tracks)
            for arg in (f"-disposition:a:{track}", "default" if track == default_audio else "0")
        ]
    ffmpeg(*args, str(path))
    return path


# An HDR10 grade's static metadata: a P3 mastering display of 1000 cd/m2, MaxCLL 1000, MaxFALL 400.
HDR10_METADATA = (
    "hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400"
)


def hdr_hevc(transfer: str, x265_params: str = "") -> list[str]:
    """10-bit HEVC tagged BT.2020 with an HDR transfer (``arib-std-b67``: HLG; ``smpte2084``: PQ),
    with more x265 parameters (``HDR10_METADATA``) where given."""
    params = f"log-level=error:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc" + (
        f":{x265_params}" if x265_params else ""
    )
    return ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-x265-params", params,
            "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc"]  # fmt: skip


CONVERTIBLE = {
    "hevc": {"video_args": ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-x265-params", "log-level=error"]},
    "vp9": {"video_args": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]},
    "av1": {"video_args": ["-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "300k", "-row-mt", "1"], "seconds": 1},
    "10bit": {"video_args": [*X264, "-pix_fmt", "yuv420p10le"]},
    "444": {"video_args": [*X264, "-pix_fmt", "yuv444p"]},
    "interlaced": {"video_args": ["-vf", "tinterlace=interleave_top,fieldorder=tff", *X264,
                                  "-flags", "+ildct+ilme", "-x264opts", "tff=1"], "rate": 50},
    "tiny_clip": {"video_args": X264, "seconds": 0.2, "audio_tracks": 1},
    "16x16": {"video_args": X264, "size": "16x16"},
    "vfr": {"video_args": ["-vf", "select='mod(n\\,3)'", "-fps_mode", "vfr", *X264], "rate": 30, "seconds": 3},
    "two_audio_tracks": {"video_args": X264, "audio_tracks": 2, "default_audio": 1},
    "video_only": {"video_args": X264},
    "audio_longer": {"video_args": X264, "audio_tracks": 1, "audio_seconds": 5},  # 3 s of sound after the last frame
    "anamorphic": {"video_args": ["-vf", "setsar=4/3", *X264], "size": "480x360"},  # shown as 640x360
    "audio_first": {"video_args": X264, "audio_tracks": 1},  # replaced below by the CC0 clip with audio first
    "rotated": {"video_args": X264, "size": "640x360"},  # then remuxed with a 90 degree display matrix
}  # fmt: skip

# Catalog sources that tempt a pipeline into breaking Apple's HLS authoring rules; each converts,
# and what it must come out as is asserted in tests/integration/test_apple_rules.py. A 2 s GOP
# (keyframes every 60 frames, no scene cuts) is a platform mezzanine's, which could be copied.
GOP_2S = ["-x264-params", "keyint=60:min-keyint=60:scenecut=0"]
APPLE_RULES = {
    "scope_4k": {"video_args": X264, "size": "3840x1604", "seconds": 2, "rate": 24},  # 2.39:1
    "short_tail": {"video_args": X264, "size": "640x360", "seconds": 12.1, "audio_tracks": 1},  # 6 + 6 + 0.1 s
    "level_51": {
        "video_args": [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-level:v",
            "5.1",
            "-b:v",
            "3000k",
            *GOP_2S,
            "-pix_fmt",
            "yuv420p",
        ],
        "size": "1920x1080",
        "seconds": 4,
        "rate": 30,
    },
    "open_gop": {
        "video_args": [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            "3000k",
            "-pix_fmt",
            "yuv420p",
            "-x264-params",
            "keyint=60:min-keyint=60:scenecut=0:open-gop=1:bframes=3",
        ],
        "size": "1920x1080",
        "seconds": 4,
        "rate": 30,
    },
    "hlg_hevc": {
        "video_args": hdr_hevc("arib-std-b67"),
        "size": "1280x720",
        "seconds": 2,
        "audio_tracks": 1,
    },  # an HLG phone clip
    "interlaced_1080i": {
        "video_args": [
            "-vf",
            "tinterlace=interleave_top,fieldorder=tff",
            *X264,
            "-flags",
            "+ildct+ilme",
            "-x264opts",
            "tff=1",
        ],
        "size": "1920x1080",
        "seconds": 2,
        "rate": 50,
    },
}

REFUSED = {
    "empty": "corrupt",
    "text": "not_video",
    "jpeg": "not_video",
    "audio_only": "not_video",
    "moov_at_end_truncated": "corrupt",
    "truncated_faststart": "corrupt",
    "hls_playlist": "not_video",
    "ffconcat": "not_video",
    "encrypted": "unsupported",
    "huge_frame": "unsupported",
    "lying_duration": "unsupported",
}


def make_convertible(kind: str, folder: Path) -> Path:
    if kind in APPLE_RULES:
        return lavfi_movie(folder / f"{kind}.mp4", **APPLE_RULES[kind])
    if kind == "audio_first":
        return media.CC0_CLIPS["friday.mp4"]
    path = lavfi_movie(folder / f"{kind}.mp4", **CONVERTIBLE[kind])
    if kind == "rotated":  # as phones store it: landscape sensor frames, rotation in the metadata
        rotated = folder / "rotated-display.mp4"
        ffmpeg("-i", str(path), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
        return rotated
    return path


def make_refused(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a movie\n" * 100)
    elif kind == "jpeg":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", str(path))
    elif kind == "audio_only":
        ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", "-f", "mp4", str(path))
    elif kind == "moov_at_end_truncated":
        whole = media.generate_movie(folder / "moov_at_end.mp4", width=320, height=240, seconds=3, faststart=False)
        media.truncated_copy(whole, path)
    elif kind == "truncated_faststart":
        # ffprobe reports the full duration of such a file; only decoding shows it stops halfway.
        whole = media.generate_movie(folder / "faststart.mp4", width=320, height=240, seconds=8)
        media.truncated_copy(whole, path)
    elif kind == "hls_playlist":
        # A playlist named .mp4 that points at a local file: must be refused, not followed.
        path.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    elif kind == "ffconcat":
        path.write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    elif kind == "encrypted":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:duration=2", *X264,
               "-encryption_scheme", "cenc-aes-ctr", "-encryption_key", "76a6c65c5ea762046bd749a2e632ccbb",
               "-encryption_kid", "a7e61c373e219033c21091fa607bf3b8", str(path))  # fmt: skip
    elif kind == "huge_frame":
        # 45 Mpixels, over the default limit of 8192x4320 (ffmpeg itself refuses 16384x16384 frames).
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=9000x5000:rate=1:duration=1",
            "-frames:v",
            "1",
            "-c:v",
            "mjpeg",
            str(path),
        )
    elif kind == "lying_duration":
        # A 6 s file whose header claims 100 hours.
        data = bytearray(media.CC0_CLIPS["friday.mp4"].read_bytes())
        header = data.find(b"mvhd") + 4 + 4 + 8  # version/flags, creation and modification times
        timescale = int.from_bytes(data[header : header + 4], "big")
        data[header + 4 : header + 8] = (timescale * 360000).to_bytes(4, "big")
        path.write_bytes(data)
    else:
        raise ValueError(kind)
    return path
