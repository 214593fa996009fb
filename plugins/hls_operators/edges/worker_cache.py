"""A worker's cache of what one task of a conversion leaves for the next, so that tasks which land
on the same worker skip the round trip through storage:

- sources: the probe, chunk encode, package and thumbnail tasks download the source once, not four
  times. Keyed by movie and conversion version (a re-run is a new version, so it never sees a stale
  source) and handed to each task as a hard link: evicting an entry never pulls a file from under a
  task that is still reading it.
- hand-offs: the folder a step packed and uploaded for the next step (chunks, renditions,
  thumbnails). Keyed by the stored object's ETag, so the next step takes the folder only when it is
  exactly what storage holds, and moved (not copied) into that step's work folder.

Entries are claimed by renaming them, so a task taking an entry and another evicting it never meet
halfway.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path


class WorkerCache:
    def __init__(self, folder: Path, *, budget_bytes: int, max_age_seconds: float) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes
        self.max_age_seconds = max_age_seconds

    def link_or_download(self, key: str, target: Path, download: Callable[[Path], Path]) -> Path:
        """``target`` holds the source: linked from the cache, or downloaded by ``download(target)``
        and then kept in the cache (within the budget)."""
        entry = self.folder / key
        try:
            os.link(entry, target)
            os.utime(entry)  # most recently used
            return target
        except FileNotFoundError:
            pass
        download(target)
        if self.budget_bytes > 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            staged = self._private_name(key)
            os.link(target, staged)
            os.replace(staged, entry)  # another task may have put the same source there meanwhile
            self.evict()
        return target

    def keep(self, key: str, folder: Path) -> None:
        """Move ``folder`` into the cache as ``key`` (within the budget; else leave it where it is)."""
        if self.budget_bytes <= 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        staged = self._private_name(key)
        folder.rename(staged)
        os.utime(staged)
        try:
            staged.rename(self.folder / key)
        except OSError:  # the same hand-off is already here: keep that one
            _remove(staged)
        self.evict()

    def take(self, key: str, target: Path) -> bool:
        """Move entry ``key``'s contents into the folder ``target``; False when there is no such entry."""
        claimed = self._private_name(key)
        try:
            (self.folder / key).rename(claimed)
        except FileNotFoundError:
            return False
        target.mkdir(parents=True, exist_ok=True)
        for child in claimed.iterdir():
            child.rename(target / child.name)
        claimed.rmdir()
        return True

    def clear(self) -> None:
        """Drop every entry: a task short of disk needs the room more than later tasks need them."""
        for path in self.folder.glob("[!.]*"):
            self._discard(path)

    def evict(self) -> None:
        """Drop entries unused for ``max_age_seconds``, then the least recently used ones over the
        budget; and what a task that died left half-written or half-removed."""
        entries = []
        for path in self.folder.iterdir():
            try:
                entries.append((path, path.stat().st_mtime, _size(path)))
            except FileNotFoundError:  # taken or evicted by another task meanwhile
                continue
        now, kept = time.time(), 0
        for path, mtime, size in sorted(entries, key=lambda entry: entry[1], reverse=True):
            if path.name.startswith("."):  # another task's, until it is surely abandoned
                if now - mtime > self.max_age_seconds:
                    _remove(path)
            elif kept + size > self.budget_bytes or now - mtime > self.max_age_seconds:
                self._discard(path)
            else:
                kept += size

    def _private_name(self, key: str) -> Path:
        """A name in the cache folder that only this call uses and that no lookup or budget sees."""
        return self.folder / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"

    def _discard(self, path: Path) -> None:
        claimed = self._private_name(path.name)
        try:
            path.rename(claimed)
        except FileNotFoundError:  # taken or evicted meanwhile
            return
        _remove(claimed)


def _size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
