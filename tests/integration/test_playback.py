"""Published sets play in a real browser: hls.js in headless Chromium, from another origin than the
storage (CORS), for sources of every shape the end-to-end catalog has. The sets are published by
the steps the tasks run (``tests/transcoding.publish``); the end-to-end wave plays its 1080p movie
the same way (tests/e2e/test_pipeline.py), and the multilingual film's languages are switched in
tests/integration/test_tracks.py."""

from __future__ import annotations

import uuid

import pytest

from devenv import media
from hls_operators.settings import Settings
from tests import hls_checks
from tests.transcoding import publish

pytestmark = pytest.mark.services  # SeaweedFS, ffmpeg and Chromium

SOURCES = {
    "silent 720p": lambda folder: media.generate_movie(
        folder / "silent.mp4", width=1280, height=720, seconds=6, audio=False
    ),
    "audio stream first": lambda folder: media.CC0_CLIPS["friday.mp4"],
    "real footage, 960x540": lambda folder: media.CC0_CLIPS["flower.mp4"],
}


@pytest.fixture(scope="module")
def published(seaweedfs, tmp_path_factory) -> dict[str, str]:
    """Each source's master URL, served anonymously with the bucket's CORS rule, as players get it."""
    store = seaweedfs.new_store("playback")
    bucket = store.bucket
    store.allow_origins(["*"])
    settings = Settings.from_values({"bucket": bucket, "public_base_url": f"{seaweedfs.endpoint}/{bucket}"})
    folder = tmp_path_factory.mktemp("playback")
    masters = {}
    for movie_id, (name, make) in enumerate(SOURCES.items(), start=1):
        _job, prefix = publish(make(folder), movie_id, store=store, settings=settings, work=folder / f"work-{movie_id}")
        masters[name] = settings.public_url(f"{prefix}/master.m3u8")
    return masters


@pytest.mark.parametrize("name", SOURCES)
def test_published_sets_play_in_a_browser(published, artifacts, name):
    """3 s of playback, the highest and the lowest level, a seek to the end and ``ended``; a
    screenshot is kept."""
    screenshot = artifacts / f"playback-{name.replace(' ', '-').replace(',', '')}.png"
    returncode, outcome = hls_checks.play_in_browser(published[name], screenshot)
    assert returncode == 0 and outcome["ok"], outcome
    assert not [e for e in outcome["errors"] if "fatal" in e]
    variants = [
        r
        for r in hls_checks.load_set(published[name], artifacts / f"levels-{uuid.uuid4().hex[:6]}")[2]
        if r.kind == "VARIANT"
    ]
    assert len(outcome["levels"]) == len(variants)
    assert screenshot.stat().st_size > 10_000
