"""Reading ffprobe's report of a source: the streams, tracks, sizes, rates and colours a conversion plans
from (``core/refusals.py`` refuses what must not be converted)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fractions import Fraction

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.ladder import MAX_FRAME_RATE, choose_frame_rate
from hls_operators.core.verify import DURATION_TOLERANCE_SECONDS

# The demuxers we accept: everything else (HLS, ffconcat, images, raw streams) is refused by ffmpeg
# itself instead of being interpreted, which is what keeps a playlist named .mp4 from reading files.
ACCEPTED_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2"
# HLS's VIDEO-RANGE of each HDR transfer: PQ (HDR10, Dolby Vision base layers) and HLG (phones, broadcast).
HDR_RANGES = {"smpte2084": "PQ", "arib-std-b67": "HLG"}


# Subtitle codecs that are text, which WebVTT can carry; the others are pictures (DVD, Blu-ray, DVB).
TEXT_SUBTITLE_CODECS = {"mov_text", "subrip", "srt", "webvtt", "ass", "ssa", "text", "tx3g"}


@dataclass(frozen=True)
class MediaTrack:
    """One audio or subtitle track of the source, with what its rendition needs to say about it."""

    index: int
    codec: str
    language: str | None  # as the file tags it (ISO 639-2, such as "fra"); None when undetermined
    title: str | None
    default: bool
    forced: bool = False
    channels: int | None = None


@dataclass(frozen=True)
class ProbeResult:
    """What the rest of the pipeline needs to know about a source; JSON-safe via ``to_dict``."""

    format_name: str
    duration: float
    size_bytes: int
    video_index: int
    video_codec: str
    width: int  # display width: non-square pixels and rotation applied
    height: int  # display height: rotation applied
    rotation: int
    pix_fmt: str
    frame_rate: str  # chosen constant output rate, as a fraction string "30000/1001"
    variable_frame_rate: bool
    interlaced: bool
    video_kbps: int | None
    audio_index: int | None
    audio_codec: str | None
    audio_channels: int | None
    video_end: float | None = None  # where the last frame ends, from the movie's start, where the file says
    color_transfer: str | None = None  # as ffprobe names it: bt709, smpte2084 (PQ), arib-std-b67 (HLG), ...
    color_primaries: str | None = None  # bt709, bt2020, ...: carried by the rungs that keep HDR
    color_space: str | None = None  # the matrix: bt709, bt2020nc, ...
    # An HDR10 source's static metadata, in x265's notation: the mastering display (SMPTE ST 2086,
    # "G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)") and the content light level ("MaxCLL,MaxFALL").
    master_display: str | None = None
    max_cll: str | None = None
    audio_tracks: tuple[MediaTrack, ...] = ()  # every audio track, in the file's order
    subtitle_tracks: tuple[MediaTrack, ...] = ()  # every text subtitle track
    image_subtitles: tuple[MediaTrack, ...] = ()  # subtitle tracks that are pictures: not carried over
    closed_captions: bool = False  # CEA-608/708 captions inside the video stream
    # The frame as it is decoded, before its pixel aspect and rotation: what the decoder allocates.
    coded_width: int = 0
    coded_height: int = 0

    @property
    def hdr(self) -> bool:
        """High dynamic range (PQ or HLG): its pixels mean other colours than SDR BT.709's."""
        return self.color_transfer in HDR_RANGES

    @property
    def video_range(self) -> str:
        return video_range(self.color_transfer)

    @property
    def fps(self) -> Fraction:
        return Fraction(self.frame_rate)

    @property
    def held_frame_seconds(self) -> float:
        """How long the last frame is held so that the video lasts as long as the audio, as a player
        of the MP4 shows it (0: not). Tails the verification tolerates, encoder padding mostly, stay."""
        if self.video_end is None or self.duration - self.video_end <= DURATION_TOLERANCE_SECONDS:
            return 0.0
        return self.duration - self.video_end

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ProbeResult:
        tracks = {name: tuple(MediaTrack(**track) for track in data.get(name, ())) for name in TRACK_FIELDS}
        return cls(**{**data, **tracks})


TRACK_FIELDS = ("audio_tracks", "subtitle_tracks", "image_subtitles")


def parse_hdr10_metadata(frames_report: dict) -> tuple[str | None, str | None]:
    """(master_display, max_cll) in x265's notation from ffprobe's report of a first frame's side
    data; None where the source has none. Chromaticities count in 0.00002, luminances in 0.0001 cd/m2."""
    side_data = next(iter(frames_report.get("frames") or [{}]), {}).get("side_data_list") or []
    by_type = {entry.get("side_data_type"): entry for entry in side_data}
    master_display = max_cll = None
    display = by_type.get("Mastering display metadata")
    try:
        if display:

            def units(name: str, scale: int) -> int:
                return round(Fraction(display[name]) * scale)

            points = "".join(
                f"{label}({units(f'{c}_x', 50000)},{units(f'{c}_y', 50000)})"
                for label, c in (("G", "green"), ("B", "blue"), ("R", "red"), ("WP", "white_point"))
            )
            master_display = f"{points}L({units('max_luminance', 10000)},{units('min_luminance', 10000)})"
        light = by_type.get("Content light level metadata")
        if light:
            max_cll = f"{int(light['max_content'])},{int(light['max_average'])}"
    except (KeyError, ValueError, ZeroDivisionError):
        return None, None  # metadata that does not parse is metadata a display could not use either
    return master_display, max_cll


def video_range(color_transfer: str | None) -> str:
    """HLS's VIDEO-RANGE of a stream with this transfer (as ffprobe names it): PQ, HLG or SDR."""
    return HDR_RANGES.get(color_transfer or "", "SDR")


def _fraction(text: str | None) -> Fraction | None:
    try:
        value = Fraction(text) if text else None
    except (ValueError, ZeroDivisionError):
        return None
    return value if value else None


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:  # "N/A"
        return None


def _video_end(video: dict, fmt: dict) -> float | None:
    """The video's end on the movie's timeline, which starts at the earliest stream's start."""
    duration = _seconds(video.get("duration"))
    if not duration or duration <= 0:
        return None
    return (_seconds(video.get("start_time")) or 0.0) - (_seconds(fmt.get("start_time")) or 0.0) + duration


def _rotation(stream: dict) -> int:
    """Rotation in degrees from the display matrix (ffmpeg 5+) or the legacy ``rotate`` tag."""
    for side_data in stream.get("side_data_list", []):
        if "rotation" in side_data:
            return int(round(float(side_data["rotation"]))) % 360
    return int(stream.get("tags", {}).get("rotate", 0)) % 360


def _is_default(stream: dict) -> bool:
    return bool(stream.get("disposition", {}).get("default"))


# Handler names that muxers write on every track whatever it holds: no title for people.
GENERIC_HANDLER_NAMES = re.compile(
    r"handler|^(core media|iso media|gpac|apple|mainconcept|l-smash)|^(video|sound|audio|text|subtitle)s?$", re.I
)


def _title(tags: dict[str, str]) -> str | None:
    """A track's title: its own tag (MOV, MKV), else the handler name studios put it in (MP4),
    unless that is a muxer's generic one."""
    title = (tags.get("title") or "").strip()
    handler = (tags.get("handler_name") or "").strip()
    if not title and handler and not GENERIC_HANDLER_NAMES.search(handler):
        title = handler
    return title or None


def _track(stream: dict) -> MediaTrack:
    tags = {key.lower(): value for key, value in stream.get("tags", {}).items()}
    language = (tags.get("language") or "").strip().lower()
    return MediaTrack(
        index=int(stream["index"]),
        codec=stream.get("codec_name", "unknown"),
        language=None if language in ("", "und", "unk", "zxx", "mis") else language,
        title=_title(tags),
        default=_is_default(stream),
        forced=bool(stream.get("disposition", {}).get("forced")),
        channels=int(stream["channels"]) if stream.get("codec_type") == "audio" and stream.get("channels") else None,
    )


def parse_probe(report: dict, *, file_size: int) -> ProbeResult:
    """Summarize ``ffprobe -show_format -show_streams -of json``; raise ``not_video`` without video."""
    streams = report.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    if not videos:
        raise MigrationError(ErrorClass.NOT_VIDEO, "the file has no video stream")
    video = next((s for s in videos if _is_default(s)), videos[0])
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    audio = next((s for s in audios if _is_default(s)), audios[0] if audios else None)
    subtitles = [s for s in streams if s.get("codec_type") == "subtitle"]

    rotation = _rotation(video)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    pixel_aspect = _fraction(str(video.get("sample_aspect_ratio", "")).replace(":", "/"))
    if pixel_aspect and pixel_aspect != 1:
        # Non-square pixels (DVD, HDV, anamorphic scope): the rungs have square pixels, so they are
        # planned from the picture as it is shown, e.g. 1440x1080 at 4:3 pixels is 1920x1080.
        width = max(2, round(width * pixel_aspect))
    if rotation in (90, 270):
        width, height = height, width
    avg_rate, nominal_rate = _fraction(video.get("avg_frame_rate")), _fraction(video.get("r_frame_rate"))
    interlaced = video.get("field_order", "progressive") not in ("progressive", "unknown", "")
    frame_rate = choose_frame_rate(avg_rate, nominal_rate)
    if interlaced and frame_rate * 2 <= MAX_FRAME_RATE:
        frame_rate *= 2  # one frame per field, as Apple asks: 25i and 30i become 50p and 60p
    fmt = report.get("format", {})
    duration = float(fmt.get("duration") or video.get("duration") or 0)
    video_bits = video.get("bit_rate")
    return ProbeResult(
        format_name=fmt.get("format_name", ""),
        duration=duration,
        size_bytes=file_size,
        video_index=int(video["index"]),
        video_codec=video.get("codec_name", "unknown"),
        width=width,
        height=height,
        rotation=rotation,
        pix_fmt=video.get("pix_fmt", "unknown"),
        frame_rate=str(frame_rate),
        variable_frame_rate=bool(avg_rate and nominal_rate and avg_rate != nominal_rate),
        interlaced=interlaced,
        video_kbps=round(int(video_bits) / 1000) if video_bits and str(video_bits).isdigit() else None,
        audio_index=int(audio["index"]) if audio else None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_channels=int(audio.get("channels") or 0) if audio else None,
        video_end=_video_end(video, fmt),
        color_transfer=video.get("color_transfer"),
        color_primaries=video.get("color_primaries"),
        color_space=video.get("color_space"),
        audio_tracks=tuple(_track(stream) for stream in audios),
        subtitle_tracks=tuple(_track(s) for s in subtitles if s.get("codec_name") in TEXT_SUBTITLE_CODECS),
        image_subtitles=tuple(_track(s) for s in subtitles if s.get("codec_name") not in TEXT_SUBTITLE_CODECS),
        closed_captions=bool(video.get("closed_captions")),
        coded_width=int(video.get("width") or 0),
        coded_height=int(video.get("height") or 0),
    )


def parse_compact_line(line: str) -> tuple[str, dict[str, str]]:
    """One line of ffprobe's ``-of compact=p=1`` output: its section and its fields
    (``packet|pts_time=0.040000|flags=__`` is ``("packet", {"pts_time": "0.040000", "flags": "__"})``)."""
    section, *fields = line.rstrip("\n").split("|")
    return section, dict(field.partition("=")[::2] for field in fields)


def parse_framecrc_times(text: str) -> list[float]:
    """Presentation times in seconds of the packets a ``framecrc`` listing of one stream holds."""
    time_base = None
    times = []
    for line in text.splitlines():
        if line.startswith("#tb 0:"):
            time_base = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            if time_base is None:
                raise ValueError("framecrc listing without a time base")
            times.append(float(int(line.split(",")[2]) * time_base))
    return times
