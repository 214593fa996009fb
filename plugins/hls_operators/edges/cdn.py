"""Warming a CDN for a movie just published: requesting what a player asks for first, so that the
first viewers are served from the edge instead of all reaching the bucket at once."""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import urllib3

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.playlists import (
    parse_map_uri,
    parse_master_playlist,
    parse_media_playlist,
    parse_rendition_uris,
)


def under_public_base(url: str, public_base_url: str) -> bool:
    """Whether ``url`` is served under the public base: its scheme and host (no userinfo), a path
    below the base's, no dot segment (escaped or not) and no fragment."""
    parts, base = urlsplit(url), urlsplit(public_base_url.rstrip("/") + "/")
    return (
        (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
        and parts.path.startswith(base.path)
        and not {".", ".."} & set(unquote(parts.path).split("/"))
        and not parts.fragment
    )


def warm_up(master_url: str, *, public_base_url: str, segments: int, timeout: float) -> int:
    """GET the master playlist, every media playlist it names (variants, audio, subtitles), the init
    section of each (fMP4) and the first ``segments`` segments of each; returns how many objects
    were requested. Only URLs under the public base are requested and no redirect is followed:
    the master URL comes from an Asset event, which more roles may post than publish movies."""
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=urllib3.Retry(2, backoff_factor=0.5)
    )

    def get(url: str) -> str:
        if not under_public_base(url, public_base_url):
            raise MigrationError(ErrorClass.SOURCE_FORBIDDEN, f"refused to warm {url!r}: not under hls_public_base_url")
        try:
            response = http.request("GET", url, redirect=False)
        except urllib3.exceptions.HTTPError as error:
            raise MigrationError(ErrorClass.STORAGE_UNAVAILABLE, f"{url}: {error}") from error
        if 300 <= response.status < 400:
            raise MigrationError(
                ErrorClass.SOURCE_FORBIDDEN, f"refused to follow {url}'s redirect (HTTP {response.status})"
            )
        if response.status != 200:
            raise MigrationError(ErrorClass.STORAGE_UNAVAILABLE, f"{url} answered HTTP {response.status}")
        return response.data.decode("utf-8", "replace")

    master = get(master_url)
    requested = 1
    for uri in parse_master_playlist(master) + parse_rendition_uris(master):
        playlist_url = urljoin(master_url, uri)
        playlist = get(playlist_url)
        requested += 1
        init = parse_map_uri(playlist)  # fMP4: a player reads the init section before any segment
        for uri in ([init] if init else []) + [segment.uri for segment in parse_media_playlist(playlist)[:segments]]:
            get(urljoin(playlist_url, uri))
            requested += 1
    return requested
