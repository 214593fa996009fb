"""The published set's layout: every file and folder name of a movie's HLS set, in one place.

A set lives under ``{hls_output_prefix}/{movie_id}/{version}/``::

    master.m3u8
    480p/index.m3u8  480p/init.mp4  480p/seg_00000.m4s ...  480p/iframes.m3u8
    audio_0/index.m3u8 ...               one folder per audio track of the source
    subs_0/index.m3u8  subs_0/sub_00000.vtt ...   one folder per text subtitle track
    storyboard/storyboard.vtt  storyboard/sheet_000.jpg ...
    thumbs/thumb_000.jpg ...  thumbs/contact_sheet.jpg

A rung's folder is its name (``core/ladder.Rung.name``); the names of the hand-offs between tasks,
which are never published, are in ``edges/handoff.py``.
"""

from __future__ import annotations

MASTER_PLAYLIST = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"  # in every rendition's folder
# fMP4 (CMAF) segments: less container overhead than MPEG-TS, and the format HEVC needs; each
# rendition's Media Initialization Section is init.mp4 (init_<n>.mp4 where one muxer writes several).
SEGMENT_FORMATS = {"fmp4": ("fmp4", "seg_%05d.m4s"), "ts": ("mpegts", "seg_%05d.ts")}
INIT_SECTION = "init.mp4"
IFRAME_PLAYLIST = "iframes.m3u8"  # beside each video rung's media playlist
SUBTITLE_SEGMENT_PATTERN = "sub_%05d.vtt"
STORYBOARD_DIR = "storyboard"
STORYBOARD_VTT = "storyboard.vtt"
STORYBOARD_SHEET_PATTERN = "sheet_%03d.jpg"
THUMBNAIL_DIR = "thumbs"
THUMBNAIL_PATTERN = "thumb_%03d.jpg"
CONTACT_SHEET = "contact_sheet.jpg"


def audio_rendition(number: int) -> str:
    """The folder of the source's audio track ``number`` (0, 1, ... in the file's order)."""
    return f"audio_{number}"


def subtitle_rendition(number: int) -> str:
    """The folder of the source's text subtitle track ``number`` (0, 1, ... in the file's order)."""
    return f"subs_{number}"
