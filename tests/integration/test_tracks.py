"""Nothing lost in conversion: a film's every audio language and text subtitle track becomes a
rendition of the published set, read back from storage over HTTP as a player reads it."""

from __future__ import annotations

import json
import subprocess

import m3u8
import pytest

from devenv import media
from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.subtitles import parse_webvtt
from hls_operators.settings import Settings
from tests import hls_checks
from tests.transcoding import publish

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg


@pytest.fixture(scope="module")
def film(seaweedfs, tmp_path_factory):
    store = seaweedfs.new_store("tracks")
    bucket = store.bucket
    store.allow_origins(["*"])  # the browser plays it from another origin
    public = f"{seaweedfs.endpoint}/{bucket}"  # anonymous reads, as a CDN's
    settings = Settings.from_values({"bucket": bucket, "public_base_url": public, "thumbnail_count": "2"})
    work = tmp_path_factory.mktemp("film")
    job, prefix = publish(media.multilingual_movie(work / "film.mp4"), 1, store=store, settings=settings, work=work)
    return job, f"{public}/{prefix}"


def test_every_audio_language_is_a_rendition_of_one_group_shared_by_every_variant(film):
    _, base = film
    master = m3u8.loads(hls_checks.fetch(f"{base}/master.m3u8").body.decode())
    audio = [m for m in master.media if m.type == "AUDIO"]
    assert [(m.language, m.name, m.default, m.autoselect, m.group_id) for m in audio] == [
        ("en", "English", "YES", "YES", "audio"),
        ("fr", "Version française", "NO", "YES", "audio"),
    ]
    for variant in master.playlists:
        info = variant.stream_info
        assert (info.audio, info.subtitles, info.closed_captions) == ("audio", "subs", "NONE")
        assert info.codecs.startswith("avc1.") and info.codecs.endswith(",mp4a.40.2")
    # each language is its own sound (440 and 660 Hz tones), stereo AAC-LC, as long as the film
    tones = []
    for rendition in audio:
        playlist = m3u8.loads(hls_checks.fetch(f"{base}/{rendition.uri}").body.decode())
        assert sum(s.duration for s in playlist.segments) == pytest.approx(10, abs=0.1)
        folder = f"{base}/{rendition.uri.rsplit('/', 1)[0]}"
        init = hls_checks.fetch_media(f"{folder}/{playlist.segment_map[0].uri}") if playlist.segment_map else b""
        segment = init + hls_checks.fetch(f"{folder}/{playlist.segments[0].uri}").body
        tones.append(segment)
        stream = json.loads(
            subprocess.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=codec_name,profile,channels,sample_rate",
                    "-of",
                    "json",
                    "-",
                ],
                input=segment,
                capture_output=True,
                check=True,
            ).stdout
        )["streams"][0]
        assert stream == {"codec_name": "aac", "profile": "LC", "sample_rate": "48000", "channels": 2}
    assert tones[0] != tones[1]


def test_every_text_subtitle_track_is_webvtt_on_the_segment_grid(film):
    job, base = film
    master = m3u8.loads(hls_checks.fetch(f"{base}/master.m3u8").body.decode())
    subtitles = [m for m in master.media if m.type == "SUBTITLES"]
    assert [(m.language, m.name, m.forced, m.group_id) for m in subtitles] == [
        ("en", "English", "NO", "subs"),
        ("fr", "French", "YES", "subs"),
    ]
    video = m3u8.loads(hls_checks.fetch(f"{base}/{master.playlists[0].uri}").body.decode())
    for rendition, language in zip(subtitles, media.SUBTITLES):
        playlist = m3u8.loads(hls_checks.fetch(f"{base}/{rendition.uri}").body.decode())
        assert [s.duration for s in playlist.segments] == [s.duration for s in video.segments]  # the video's grid
        folder = rendition.uri.rsplit("/", 1)[0]
        texts = []
        for segment in playlist.segments:
            response = hls_checks.fetch(f"{base}/{folder}/{segment.uri}")
            assert response.content_type == "text/vtt"
            body = response.body.decode()
            assert body.splitlines()[1].startswith("X-TIMESTAMP-MAP=MPEGTS:") and body.splitlines()[1].endswith(
                ",LOCAL:00:00:00.000"
            )
            texts.append([(cue.start, cue.end, cue.text) for cue in parse_webvtt(body)])
        first, boundary = media.SUBTITLES[language]
        assert texts[0] == [first, boundary] and texts[1] == [boundary]  # the cue across 6 s is in both segments
    assert [t.language for t in job.probe.subtitle_tracks] == ["eng", "fra"]


def test_a_viewer_switches_audio_language_and_subtitles_in_a_browser(film, artifacts):
    """hls.js in headless Chromium plays each audio rendition of the film and loads each subtitle
    track's cues, read back with the text the source carried."""
    _, base = film
    returncode, outcome = hls_checks.play_in_browser(f"{base}/master.m3u8", artifacts / "playback-multilingual.png")
    assert returncode == 0 and outcome["ok"], outcome
    assert [(a["lang"], a["name"], a["default"]) for a in outcome["audio"]] == [
        ("en", "English", True),
        ("fr", "Version française", False),
    ]
    assert any("with the Version française audio" in step for step in outcome["steps"])
    shown = {s["lang"]: (s["forced"], sorted({c["text"] for c in s["cues"]})) for s in outcome["subtitles"]}
    source = media.SUBTITLES
    assert shown == {
        "en": (False, sorted(c[2] for c in source["eng"])),
        "fr": (True, sorted(c[2] for c in source["fra"])),
    }
    # in sync with the picture: the first cue shows from 0.5 s to 2 s of the movie, counted from where
    # the player puts the first frame
    english = next(s for s in outcome["subtitles"] if s["lang"] == "en")
    first = min(english["cues"], key=lambda cue: cue["start"])
    assert first["start"] - outcome["firstFrame"] == pytest.approx(0.5, abs=0.045), (first, outcome["firstFrame"])
    assert first["end"] - first["start"] == pytest.approx(1.5, abs=0.01)


def test_a_track_title_made_to_add_a_subtitle_track_adds_none(seaweedfs, tmp_path):
    """The title a studio put in the MP4 carries a line break hls.js splits on (U+2028) and a
    forced subtitle track from another origin after it: the published master names only its own
    files, read as hls.js reads it."""
    store = seaweedfs.new_store("titles")
    bucket = store.bucket
    settings = Settings.from_values(
        {"bucket": bucket, "public_base_url": f"{seaweedfs.endpoint}/{bucket}", "thumbnail_count": "1"}
    )
    plain = media.generate_movie(tmp_path / "plain.mp4", width=320, height=180, seconds=2)
    title = "Director\u2028#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=subs,NAME=x,FORCED=YES,URI=https://evil.example/x.m3u8"
    source = tmp_path / "titled.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(plain), "-c", "copy", "-metadata:s:a:0", f"handler_name={title}",
                    str(source)], check=True)  # fmt: skip
    _job, prefix = publish(source, 2, store=store, settings=settings, work=tmp_path / "work")
    master = store.read_text(f"{prefix}/master.m3u8")
    assert "Director" in master and "evil.example" in master  # the title is there, as one line's attribute
    lines = master.splitlines()  # every line break, as hls.js splits
    assert lines == master.rstrip("\n").split("\n")
    stored = set(store.list_sizes(prefix))
    named = [m.uri for m in m3u8.loads(master).media] + [line for line in lines if line and not line.startswith("#")]
    assert named and all(uri in stored for uri in named)


def test_a_subtitle_cue_made_to_multiply_across_segments_refuses_the_movie(seaweedfs, tmp_path):
    """A cue is copied into every segment it overlaps: one of 3000 characters is refused as
    unsupported, classified, before a segment of it is written."""
    store = seaweedfs.new_store("cues")
    bucket = store.bucket
    settings = Settings.from_values(
        {"bucket": bucket, "public_base_url": f"{seaweedfs.endpoint}/{bucket}", "thumbnail_count": "1"}
    )
    plain = media.generate_movie(tmp_path / "plain.mp4", width=320, height=180, seconds=2)
    srt = tmp_path / "long.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\n" + "x" * 3000 + "\n\n")
    source = tmp_path / "long-cue.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(plain), "-i", str(srt), "-map", "0", "-map", "1",
                    "-c", "copy", "-c:s", "mov_text", str(source)], check=True)  # fmt: skip
    with pytest.raises(MigrationError) as caught:
        publish(source, 3, store=store, settings=settings, work=tmp_path / "work")
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "cue of 3000 characters" in caught.value.message
    assert not [key for key in store.list_sizes("hls") if key.endswith(".vtt")]
