from datetime import UTC, datetime

import pytest

from hls_operators.core.publishing import (
    IMMUTABLE,
    SHORT_LIVED,
    new_version,
    object_headers,
    output_prefix,
    publish_order,
)


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl", SHORT_LIVED),
        ("720p/index.m3u8", "application/vnd.apple.mpegurl", SHORT_LIVED),
        ("720p/seg_00001.ts", "video/mp2t", IMMUTABLE),
        ("720p/seg_00001.m4s", "video/iso.segment", IMMUTABLE),
        ("thumbs/thumb_000.jpg", "image/jpeg", IMMUTABLE),
        ("thumbs/CONTACT.JPG", "image/jpeg", IMMUTABLE),
    ],
)
def test_headers_by_file_type(path, content_type, cache):
    assert object_headers(path) == {"ContentType": content_type, "CacheControl": cache}
    assert "immutable" not in SHORT_LIVED


def test_unknown_files_are_not_published_blindly():
    with pytest.raises(ValueError):
        object_headers("notes.txt")


def test_master_goes_last_and_playlists_after_their_media():
    media, playlists, master = publish_order(
        ["master.m3u8", "720p/index.m3u8", "720p/seg_00000.ts", "thumbs/thumb_000.jpg", "360p/index.m3u8"]
    )
    assert master == ["master.m3u8"]
    assert playlists == ["360p/index.m3u8", "720p/index.m3u8"]
    assert media == ["720p/seg_00000.ts", "thumbs/thumb_000.jpg"]


def test_keys_come_from_numeric_ids_and_a_fresh_version():
    version = new_version(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    assert version.startswith("20261123T020000Z-") and version != new_version()
    assert output_prefix("hls/movies/", 42, version) == f"hls/movies/42/{version}"
    for bad_id in ("../etc", "42; rm -rf /", -1):
        with pytest.raises(ValueError):
            output_prefix("hls/movies", bad_id, version)
    with pytest.raises(ValueError):
        output_prefix("hls/movies", 42, "../../x")
