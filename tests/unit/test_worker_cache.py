import os
import time

import pytest

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.edges.handoff import check_free_space, worker_cache
from hls_operators.edges.worker_cache import WorkerCache
from hls_operators.settings import Settings


class Downloads:
    """Writes ``size`` bytes to the target, and counts how often it was asked to."""

    def __init__(self, size: int = 100) -> None:
        self.size, self.count = size, 0

    def __call__(self, target):
        self.count += 1
        target.write_bytes(b"x" * self.size)
        return target


def test_the_tasks_of_one_conversion_download_the_source_once(tmp_path):
    cache, download = WorkerCache(tmp_path / "cache", budget_bytes=1000, max_age_seconds=3600), Downloads()
    for task in ("probe", "encode_0", "package"):
        (tmp_path / task).mkdir()
        source = cache.link_or_download("7-v1.mp4", tmp_path / task / "source.mp4", download)
        assert source.read_bytes() == b"x" * 100
    assert download.count == 1
    cache.link_or_download("7-v2.mp4", tmp_path / "probe" / "again.mp4", download)  # a new conversion of the movie
    assert download.count == 2


def test_the_least_recently_used_sources_go_over_the_budget_and_a_task_keeps_its_copy(tmp_path):
    cache, download = WorkerCache(tmp_path / "cache", budget_bytes=250, max_age_seconds=3600), Downloads()
    first = cache.link_or_download("1-v.mp4", tmp_path / "one.mp4", download)
    cache.link_or_download("2-v.mp4", tmp_path / "two.mp4", download)
    os.utime(tmp_path / "cache" / "1-v.mp4", (time.time() - 60,) * 2)
    cache.link_or_download("3-v.mp4", tmp_path / "three.mp4", download)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["2-v.mp4", "3-v.mp4"]
    assert first.read_bytes() == b"x" * 100  # the task's hard link outlives the evicted entry


def test_sources_unused_for_longer_than_the_age_limit_are_dropped(tmp_path):
    cache, download = WorkerCache(tmp_path / "cache", budget_bytes=10_000, max_age_seconds=600), Downloads()
    cache.link_or_download("1-v.mp4", tmp_path / "one.mp4", download)
    os.utime(tmp_path / "cache" / "1-v.mp4", (time.time() - 601,) * 2)
    cache.link_or_download("2-v.mp4", tmp_path / "two.mp4", download)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["2-v.mp4"]


def test_a_failed_download_leaves_nothing_in_the_cache(tmp_path):
    cache = WorkerCache(tmp_path / "cache", budget_bytes=1000, max_age_seconds=3600)

    def broken(target):
        target.write_bytes(b"part")
        raise OSError("connection reset")

    with pytest.raises(OSError):
        cache.link_or_download("1-v.mp4", tmp_path / "one.mp4", broken)
    assert not (tmp_path / "cache" / "1-v.mp4").exists()


def test_a_budget_of_zero_caches_nothing(tmp_path):
    cache, download = WorkerCache(tmp_path / "cache", budget_bytes=0, max_age_seconds=3600), Downloads()
    cache.link_or_download("1-v.mp4", tmp_path / "one.mp4", download)
    cache.link_or_download("1-v.mp4", tmp_path / "again.mp4", download)
    assert download.count == 2 and not (tmp_path / "cache").exists()


def test_a_task_short_of_disk_drops_the_cached_sources_before_it_gives_up(tmp_path):
    settings = Settings.from_values({"bucket": "b", "public_base_url": "https://cdn.example"})
    cache = worker_cache(tmp_path, settings)
    cache.link_or_download("1-v.mp4", tmp_path / "one.mp4", Downloads())
    (tmp_path / "encode_0").mkdir()
    with pytest.raises(MigrationError) as raised:
        check_free_space(tmp_path / "encode_0", 2**62, settings)
    assert raised.value.error_class is ErrorClass.DISK_FULL
    assert list(cache.folder.iterdir()) == []


def handoff(folder, files: dict[str, bytes]):
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def test_a_kept_hand_off_is_taken_once_with_its_contents_moved_not_copied(tmp_path):
    cache = WorkerCache(tmp_path / "cache", budget_bytes=10_000, max_age_seconds=3600)
    produced = handoff(tmp_path / "encode_0" / "chunk", {"720p/chunk.mp4": b"v" * 300, "tiles/tile_0.jpg": b"j"})
    inode = (produced / "720p" / "chunk.mp4").stat().st_ino
    cache.keep("7-v1-chunk_000-etag1", produced)
    assert not produced.exists()
    target = tmp_path / "package" / "chunks" / "0"
    assert cache.take("7-v1-chunk_000-etag1", target)
    assert (target / "720p" / "chunk.mp4").read_bytes() == b"v" * 300 and (
        target / "tiles" / "tile_0.jpg"
    ).read_bytes() == b"j"
    assert (target / "720p" / "chunk.mp4").stat().st_ino == inode
    assert not cache.take("7-v1-chunk_000-etag1", tmp_path / "retry")  # a retry of the step downloads it
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_hand_off_stored_again_since_is_not_taken(tmp_path):
    # The key holds the stored object's ETag: once another worker's retry replaced the object, the
    # entry this worker kept is not what storage holds any more.
    cache = WorkerCache(tmp_path / "cache", budget_bytes=10_000, max_age_seconds=3600)
    cache.keep("7-v1-renditions-etag1", handoff(tmp_path / "out", {"a.ts": b"old"}))
    assert not cache.take("7-v1-renditions-etag2", tmp_path / "publish")
    assert not (tmp_path / "publish").exists()


def test_hand_offs_count_against_the_budget_with_the_sources(tmp_path):
    cache, download = WorkerCache(tmp_path / "cache", budget_bytes=250, max_age_seconds=3600), Downloads()
    cache.link_or_download("1-v.mp4", tmp_path / "one.mp4", download)
    os.utime(tmp_path / "cache" / "1-v.mp4", (time.time() - 60,) * 2)
    cache.keep("1-v-chunk_000-e", handoff(tmp_path / "out", {"rung/a.mp4": b"x" * 100, "rung/b.mp4": b"x" * 100}))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["1-v-chunk_000-e"]
    cache.keep("1-v-chunk_001-e", handoff(tmp_path / "out2", {"c.mp4": b"x" * 300}))  # over the budget on its own
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["1-v-chunk_000-e"]


def test_a_budget_of_zero_keeps_no_hand_off(tmp_path):
    cache = WorkerCache(tmp_path / "cache", budget_bytes=0, max_age_seconds=3600)
    produced = handoff(tmp_path / "out", {"a.ts": b"x"})
    cache.keep("1-v-renditions-e", produced)
    assert produced.exists() and not cache.take("1-v-renditions-e", tmp_path / "publish")


def test_what_a_dead_task_left_half_written_goes_once_surely_abandoned(tmp_path):
    cache = WorkerCache(tmp_path / "cache", budget_bytes=10_000, max_age_seconds=600)
    abandoned, recent = (
        handoff(tmp_path / "cache" / ".1-v-chunk_000-e.99.ab", {"a": b"x"}),
        tmp_path / "cache" / ".2-v.mp4.98.cd",
    )
    recent.write_bytes(b"x")
    os.utime(abandoned, (time.time() - 601,) * 2)
    cache.evict()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [recent.name]
