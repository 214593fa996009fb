"""Which stored sets a sweep may delete: superseded versions of a movie (an older conversion that a
forced re-conversion replaced) and what attempts that failed after uploading left behind.

A set is kept while anything may still point at it: a catalog row, the movie's latest succeeded
conversion (what a rollback and re-flip use), an attempt still running or a claim on the movie;
and while it is younger than the grace period (a CDN may still serve it to players mid-movie).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VERSION_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class StoredSet:
    """A versioned folder in the bucket: ``{root}/{movie_id}/{version}/`` (a published set, or an
    attempt's hand-offs)."""

    prefix: str
    movie_id: int
    version: str
    objects: int
    bytes: int


@dataclass(frozen=True)
class References:
    """What may still point at a stored set, as the catalog and the ledger say now."""

    catalog_urls: frozenset[str]  # every video_url and trailer_url of the catalog
    # (movie, version) of each movie's latest succeeded conversion and of every attempt still running
    kept_versions: frozenset[tuple[int, str]]
    claimed_movies: frozenset[int]  # movies a run holds a live claim on


def version_time(version: str) -> datetime | None:
    """When a conversion's folder was made, from its name (``20261123T020000Z-3f9a1c``)."""
    try:
        return datetime.strptime(version.split("-", 1)[0], VERSION_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def sweepable(
    sets: list[StoredSet],
    references: References,
    *,
    master_url: Callable[[StoredSet], str],
    now: datetime,
    grace: timedelta,
) -> list[StoredSet]:
    """The sets no one can reach any more and older than ``grace``; ``master_url(set)`` is the URL
    the catalog would hold for a published set. A set whose age cannot be told is kept."""
    found = []
    for stored in sets:
        made = version_time(stored.version)
        if made is None or now - made < grace:
            continue
        if (
            master_url(stored) in references.catalog_urls
            or (stored.movie_id, stored.version) in references.kept_versions
            or stored.movie_id in references.claimed_movies
        ):
            continue
        found.append(stored)
    return found


def group_sets(root: str, sizes: dict[str, int]) -> list[StoredSet]:
    """The versioned folders among ``{path relative to root: size}`` (anything else is left alone)."""
    grouped: dict[tuple[int, str], list[int]] = {}
    for path, size in sizes.items():
        movie, _, rest = path.partition("/")
        version, _, name = rest.partition("/")
        if movie.isdigit() and version and name:
            grouped.setdefault((int(movie), version), []).append(size)
    return [
        StoredSet(f"{root.strip('/')}/{movie}/{version}", movie, version, len(found), sum(found))
        for (movie, version), found in sorted(grouped.items())
    ]
