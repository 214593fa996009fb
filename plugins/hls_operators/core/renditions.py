"""What a movie's packaging made of it: the renditions the master playlist names, the ledger keeps
and the migration view shows. Read by attribute everywhere; ``to_dict`` and ``from_dict`` are the
one place they become JSON (the hand-off to the upload step, the ledger's ladder and details)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from hls_operators.core import layout
from hls_operators.core.ladder import Rung
from hls_operators.core.languages import bcp47, display_name, unique_names
from hls_operators.core.probe import MediaTrack, ProbeResult


@dataclass(frozen=True)
class VideoRendition:
    """A rung as it was encoded: its plan, and what was read back from its stream."""

    rung: Rung
    codecs: str  # RFC 6381, as the stream says (avc1.64001f, hvc1.2.4.L93.B0)
    frame_rate: str  # the output's constant rate, as a fraction
    video_range: str | None = None  # SDR, PQ or HLG, for the rungs of an HDR source only

    @property
    def name(self) -> str:
        return self.rung.name

    def to_dict(self) -> dict:
        data = {**self.rung.to_dict(), "codecs": self.codecs, "frame_rate": self.frame_rate}
        return data if self.video_range is None else {**data, "video_range": self.video_range}

    @classmethod
    def from_dict(cls, data: dict) -> VideoRendition:
        return cls(Rung.from_dict(data), data["codecs"], data["frame_rate"], data.get("video_range"))


@dataclass(frozen=True)
class TrackRendition:
    """One audio or subtitle track of the source, as the master names it."""

    name: str  # its folder in the set (``layout.audio_rendition``, ``layout.subtitle_rendition``)
    label: str  # NAME, unique in its group
    language: str | None  # BCP 47
    default: bool
    forced: bool
    channels: int | None  # audio only
    source_track: int  # the stream's index in the source


@dataclass(frozen=True)
class NotCarried:
    """A track of the source no rendition can hold (picture subtitles), and why."""

    track: int
    codec: str
    language: str | None
    reason: str


@dataclass(frozen=True)
class Renditions:
    video: tuple[VideoRendition, ...]
    dropped: dict[str, str]  # rung name: why it was dropped once encoded
    audio: tuple[TrackRendition, ...]
    subtitles: tuple[TrackRendition, ...]
    closed_captions: bool  # CEA-608/708 inside the source's video stream
    not_carried: tuple[NotCarried, ...]

    def to_dict(self) -> dict:
        return {
            "video": [video.to_dict() for video in self.video],
            "dropped": [{"name": name, "reason": reason} for name, reason in self.dropped.items()],
            "audio": [asdict(track) for track in self.audio],
            "subtitles": [asdict(track) for track in self.subtitles],
            "closed_captions": self.closed_captions,
            "not_carried": [asdict(track) for track in self.not_carried],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Renditions:
        return cls(
            video=tuple(VideoRendition.from_dict(video) for video in data["video"]),
            dropped={dropped["name"]: dropped["reason"] for dropped in data["dropped"]},
            audio=tuple(TrackRendition(**track) for track in data["audio"]),
            subtitles=tuple(TrackRendition(**track) for track in data["subtitles"]),
            closed_captions=data["closed_captions"],
            not_carried=tuple(NotCarried(**track) for track in data["not_carried"]),
        )

    def carried_over(self) -> dict:
        """What the ledger keeps of the tracks: the audio and subtitle languages published, and the
        tracks that could not be carried over, with the reason."""
        return {
            "audio": [{"language": t.language, "name": t.label, "default": t.default} for t in self.audio],
            "subtitles": [{"language": t.language, "name": t.label, "forced": t.forced} for t in self.subtitles],
            "not_carried": [asdict(track) for track in self.not_carried],
        }


def track_renditions(
    tracks: tuple[MediaTrack, ...], kind: str, folder: Callable[[int], str], channels: int | None = None
) -> tuple[TrackRendition, ...]:
    """The renditions of the source's audio or subtitle tracks, as the master names them: LANGUAGE
    as BCP 47, a NAME unique in the group, DEFAULT on the source's default track (for audio, on
    the first when none is marked: a group needs one) and FORCED as the source says."""
    names = unique_names([display_name(t.language, t.title, kind, number + 1) for number, t in enumerate(tracks)])
    default = next((n for n, t in enumerate(tracks) if t.default), 0 if channels else None)
    return tuple(
        TrackRendition(
            name=folder(number),
            label=names[number],
            language=bcp47(track.language),
            default=number == default,
            forced=track.forced,
            channels=channels,
            source_track=track.index,
        )
        for number, track in enumerate(tracks)
    )


def published_renditions(probe: ProbeResult, video: list[VideoRendition], dropped: dict[str, str]) -> Renditions:
    """What the master playlist and the ledger need of a set: its rungs, the rungs dropped and why,
    its audio and subtitle renditions, and what the source carried that the set cannot."""
    return Renditions(
        video=tuple(video),
        dropped=dropped,
        audio=track_renditions(probe.audio_tracks, "Audio", layout.audio_rendition, channels=2),
        subtitles=track_renditions(probe.subtitle_tracks, "Subtitles", layout.subtitle_rendition),
        closed_captions=probe.closed_captions,
        not_carried=tuple(
            NotCarried(t.index, t.codec, t.language, "image subtitles cannot become WebVTT text")
            for t in probe.image_subtitles
        ),
    )
