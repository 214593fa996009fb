"""Warming a CDN for a movie just published: requesting what a player asks for first, so that the
first viewers are served from the edge instead of all reaching the bucket at once."""

from __future__ import annotations

from urllib.parse import urljoin

import urllib3

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.playlists import parse_map_uri, parse_master_playlist, parse_media_playlist, parse_rendition_uris


def warm_up(master_url: str, *, segments: int, timeout: float) -> int:
    """GET the master playlist, every media playlist it names (variants, audio, subtitles), the init
    section of each (fMP4) and the first ``segments`` segments of each; returns how many objects
    were requested."""
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=urllib3.Retry(2, backoff_factor=0.5))

    def get(url: str) -> str:
        try:
            response = http.request("GET", url)
        except urllib3.exceptions.HTTPError as error:
            raise MigrationError(ErrorClass.STORAGE_UNAVAILABLE, f"{url}: {error}") from error
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
