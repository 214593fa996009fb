"""A worker's cache of the sources it downloaded, so that the probe, chunk encode, package and
thumbnail tasks of one conversion on the same worker download the source once, not four times.

Entries are keyed by movie and conversion version (a re-run is a new version, so it never sees a
stale source) and handed to each task as a hard link into its own work folder: evicting an entry
never pulls a file from under a task that is still reading it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


class SourceCache:
    def __init__(self, folder: Path, *, budget_bytes: int, max_age_seconds: float) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes
        self.max_age_seconds = max_age_seconds

    def fetch(self, key: str, target: Path, download: Callable[[Path], Path]) -> Path:
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
            staged = self.folder / f".{key}.{os.getpid()}"
            os.link(target, staged)
            os.replace(staged, entry)  # another task may have put the same source there meanwhile
            self.evict()
        return target

    def clear(self) -> None:
        """Drop every entry: a task short of disk needs the room more than later tasks need the sources."""
        for path in self.folder.glob("[!.]*"):
            path.unlink(missing_ok=True)

    def evict(self) -> None:
        """Drop entries unused for ``max_age_seconds``, then the least recently used ones over the budget."""
        entries = []
        for path in self.folder.glob("[!.]*"):
            try:
                entries.append((path, path.stat()))
            except FileNotFoundError:  # evicted by another task meanwhile
                continue
        now, kept = time.time(), 0
        for path, status in sorted(entries, key=lambda entry: entry[1].st_mtime, reverse=True):
            if kept + status.st_size > self.budget_bytes or now - status.st_mtime > self.max_age_seconds:
                path.unlink(missing_ok=True)
            else:
                kept += status.st_size
