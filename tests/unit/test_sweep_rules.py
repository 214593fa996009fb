from datetime import UTC, datetime, timedelta

from hls_operators.core.sweep import References, group_sets, sweepable, version_time

NOW = datetime(2026, 11, 30, tzinfo=UTC)
SIZES = {
    "1/20261101T000000Z-aaaaaa/master.m3u8": 10,
    "1/20261101T000000Z-aaaaaa/720p/seg_00000.ts": 1000,  # superseded
    "1/20261110T000000Z-bbbbbb/master.m3u8": 10,  # the catalog plays this one
    "2/20261102T000000Z-cccccc/720p/seg_00000.ts": 500,  # an attempt that failed after uploading
    "2/20261129T000000Z-dddddd/720p/seg_00000.ts": 500,  # the same, but within the grace period
    "3/20261103T000000Z-eeeeee/master.m3u8": 10,  # the movie's latest success: rolled back, kept for a re-flip
    "4/20261104T000000Z-ffffff/master.m3u8": 10,  # a run is converting movie 4 again
    "5/not-a-version/master.m3u8": 10,  # no age to tell: kept
    "stray.txt": 1,
}


def test_only_unreachable_sets_older_than_the_grace_period_are_swept():
    sets = group_sets("hls/movies/", SIZES)
    assert [(s.prefix, s.objects, s.bytes) for s in sets][:2] == [
        ("hls/movies/1/20261101T000000Z-aaaaaa", 2, 1010),
        ("hls/movies/1/20261110T000000Z-bbbbbb", 1, 10),
    ]
    references = References(
        catalog_urls=frozenset({"https://cdn.example/hls/movies/1/20261110T000000Z-bbbbbb/master.m3u8"}),
        kept_versions=frozenset({(1, "20261110T000000Z-bbbbbb"), (3, "20261103T000000Z-eeeeee")}),
        claimed_movies=frozenset({4}),
    )
    swept = sweepable(
        sets,
        references,
        master_url=lambda s: f"https://cdn.example/{s.prefix}/master.m3u8",
        now=NOW,
        grace=timedelta(days=7),
    )
    assert [s.prefix for s in swept] == ["hls/movies/1/20261101T000000Z-aaaaaa", "hls/movies/2/20261102T000000Z-cccccc"]
    assert version_time("20261101T000000Z-aaaaaa") == datetime(2026, 11, 1, tzinfo=UTC)
    assert version_time("not-a-version") is None
