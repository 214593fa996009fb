"""The renditions a packaging made travel as JSON twice (the hand-off to the upload step, the
ledger): the typed form and the JSON must carry the same thing, in the shape the ledger has kept."""

from __future__ import annotations

import json

from hls_operators.core.ladder import Rung
from hls_operators.core.renditions import NotCarried, Renditions, TrackRendition, VideoRendition

RUNG = Rung("720p", 1280, 720, 2800, reason="fits the 720p box")
RENDITIONS = Renditions(
    video=(
        VideoRendition(RUNG, "avc1.64001f", "30"),
        VideoRendition(Rung("360p-hevc", 640, 360, 600, codec="hevc"), "hvc1.2.4.L93.B0", "30", video_range="PQ"),
    ),
    dropped={"480p": "redundant: 1300 kbit/s, 93% of 720p's 1400"},
    audio=(TrackRendition("audio_0", "English", "en", True, False, 2, 1),),
    subtitles=(TrackRendition("subs_0", "Français", "fr", False, True, None, 3),),
    closed_captions=False,
    not_carried=(NotCarried(4, "hdmv_pgs_subtitle", "de", "image subtitles cannot become WebVTT text"),),
)


def test_the_json_reads_back_as_the_same_renditions():
    assert Renditions.from_dict(json.loads(json.dumps(RENDITIONS.to_dict()))) == RENDITIONS


def test_the_ledger_keeps_each_rung_as_its_plan_plus_what_its_stream_said():
    sdr, hdr = RENDITIONS.to_dict()["video"]
    assert sdr == {**RUNG.to_dict(), "codecs": "avc1.64001f", "frame_rate": "30"}  # no range: an SDR source
    assert hdr["video_range"] == "PQ" and hdr["codec"] == "hevc"
    assert RENDITIONS.to_dict()["dropped"] == [{"name": "480p", "reason": "redundant: 1300 kbit/s, 93% of 720p's 1400"}]


def test_what_was_carried_over_names_each_track_by_its_language_and_title():
    assert RENDITIONS.carried_over() == {
        "audio": [{"language": "en", "name": "English", "default": True}],
        "subtitles": [{"language": "fr", "name": "Français", "forced": True}],
        "not_carried": [
            {
                "track": 4,
                "codec": "hdmv_pgs_subtitle",
                "language": "de",
                "reason": "image subtitles cannot become WebVTT text",
            }
        ],
    }
