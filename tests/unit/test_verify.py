import pytest

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.trickplay import (
    IFrame,
    StoryboardPlan,
    storyboard_cues,
    write_iframe_playlist,
    write_storyboard_vtt,
)
from hls_operators.core.verify import verify_hls_set

MASTER = (
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n"
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="720p/iframes.m3u8"\n'
)
MEDIA = "#EXTM3U\n#EXTINF:6.0,\nseg_00000.ts\n#EXTINF:4.0,\nseg_00001.ts\n#EXT-X-ENDLIST\n"
IFRAMES = [IFrame("seg_00000.ts", 564, 300, 6.0), IFrame("seg_00001.ts", 564, 136, 4.0)]
STORYBOARD = write_storyboard_vtt(storyboard_cues(StoryboardPlan(5, 160, 90), 2, 10.0))
EXPECTED = {
    "master.m3u8": 50,
    "720p/index.m3u8": 80,
    "720p/iframes.m3u8": 90,
    "720p/seg_00000.ts": 1000,
    "720p/seg_00001.ts": 700,
    "storyboard/storyboard.vtt": 120,
    "storyboard/sheet_000.jpg": 4000,
}


def verify(stored=None, duration=10.0, media=MEDIA, iframes=IFRAMES, storyboard=STORYBOARD, master=MASTER):
    return verify_hls_set(
        stored=dict(EXPECTED) if stored is None else stored,
        expected=EXPECTED,
        master_text=master,
        media_texts={"720p/index.m3u8": media, "720p/iframes.m3u8": write_iframe_playlist(iframes)},
        source_duration=duration,
        storyboard_text=storyboard,
    )


def test_a_complete_set_passes():
    result = verify()
    assert (result.objects, result.bytes, result.segments) == (7, 6040, 2)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"master": MASTER.splitlines()[0] + "\n" + "\n".join(MASTER.splitlines()[1:3])}, "names 0 I-frame playlists"),
        ({"iframes": [IFrame("seg_00000.ts", 564, 300, 6.0), IFrame("seg_00001.ts", 564, 137, 4.0)]}, "lies outside"),
        ({"iframes": IFRAMES[:1]}, "iframes.m3u8 lasts 6.000 s"),
        ({"storyboard": None}, "the storyboard is missing"),
        ({"storyboard": STORYBOARD.replace("--> 00:00:05.000", "--> 00:00:04.000")}, "gaps or overlap"),
        ({"storyboard": STORYBOARD.replace("sheet_000", "sheet_001")}, "sheet_001.jpg is missing"),
        ({"storyboard": "WEBVTT\n"}, "the storyboard has no cue"),
    ],
)
def test_trick_play_and_storyboard_are_verified(change, problem):
    with pytest.raises(MigrationError) as caught:
        verify(**change)
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("stored", "duration", "problem"),
    [
        ({k: v for k, v in EXPECTED.items() if k != "720p/seg_00001.ts"}, 10.0, "720p/seg_00001.ts is missing"),
        ({**EXPECTED, "720p/seg_00000.ts": 999}, 10.0, "has 999 bytes, expected 1000"),
        (None, 12.0, "lasts 10.000 s, the source 12.000 s"),
    ],
)
def test_incomplete_or_inconsistent_sets_fail(stored, duration, problem):
    with pytest.raises(MigrationError) as caught:
        verify(stored, duration)
    assert caught.value.error_class is ErrorClass.VERIFICATION_FAILED
    assert problem in caught.value.message


def test_duration_tolerance_is_half_a_second():
    verify(duration=10.49)
    with pytest.raises(MigrationError):
        verify(duration=10.51)


def test_an_fmp4_set_needs_the_init_section_its_playlists_name():
    media = MEDIA.replace("#EXTINF:6.0,", '#EXT-X-MAP:URI="init_0.mp4"\n#EXTINF:6.0,', 1)
    iframes = write_iframe_playlist(IFRAMES, map_uri="init_0.mp4")
    texts = {"720p/index.m3u8": media, "720p/iframes.m3u8": iframes}
    check = dict(
        expected=EXPECTED, master_text=MASTER, media_texts=texts, source_duration=10.0, storyboard_text=STORYBOARD
    )
    verify_hls_set(stored={**EXPECTED, "720p/init_0.mp4": 800}, **check)
    with pytest.raises(MigrationError) as caught:
        verify_hls_set(stored=dict(EXPECTED), **check)
    assert "segment 720p/init_0.mp4 is missing" in caught.value.message
    assert "init section 720p/init_0.mp4 is missing" in caught.value.message
