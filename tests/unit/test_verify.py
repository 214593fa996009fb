import pytest

from hls_operators.errors import ErrorClass, MigrationError
from hls_operators.verify import verify_hls_set

MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n"
MEDIA = "#EXTM3U\n#EXTINF:6.0,\nseg_00000.ts\n#EXTINF:4.0,\nseg_00001.ts\n#EXT-X-ENDLIST\n"
EXPECTED = {"master.m3u8": 50, "720p/index.m3u8": 80, "720p/seg_00000.ts": 1000, "720p/seg_00001.ts": 700}


def verify(stored=None, duration=10.0, media=MEDIA):
    return verify_hls_set(
        stored=dict(EXPECTED) if stored is None else stored,
        expected=EXPECTED,
        master_text=MASTER,
        media_texts={"720p/index.m3u8": media},
        source_duration=duration,
    )


def test_a_complete_set_passes():
    result = verify()
    assert (result.objects, result.bytes, result.segments) == (4, 1830, 2)


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
