"""The CDN warm-up against real HTTP servers on loopback: it requests what a player asks for first,
and nothing off the public base, whatever an Asset event or a playlist names."""

from __future__ import annotations

import http.server
import logging

import pytest

from hls_operators.maintenance import warm_up_published
from hls_operators.settings import Settings
from tests import loopback

pytestmark = pytest.mark.services  # real sockets and servers

MEDIA = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nseg_0.ts\n#EXTINF:6.0,\nseg_1.ts\n#EXT-X-ENDLIST\n"


def serve(pages: dict[str, tuple[int, str]], requested: list[str]) -> http.server.ThreadingHTTPServer:
    """A server answering ``pages`` (path: (status, body or a redirect's Location)), 404 otherwise,
    each request's path kept in ``requested``."""

    class Handler(loopback.QuietHandler):
        def do_GET(self):
            requested.append(self.path)
            status, body = pages.get(self.path, (404, ""))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", body)
                body = ""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    return loopback.serve(Handler)


def test_the_warm_up_requests_nothing_off_the_public_base(caplog):
    elsewhere_requests: list[str] = []
    elsewhere = serve({"/latest/meta-data": (200, "secret")}, elsewhere_requests)
    other = f"http://127.0.0.1:{elsewhere.server_address[1]}"
    cdn_requests: list[str] = []
    pages = {
        "/m/hls/1/master.m3u8": (200, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n"),
        "/m/hls/1/360p/index.m3u8": (200, MEDIA),
        "/m/hls/1/360p/seg_0.ts": (200, "x"),
        "/m/hls/1/360p/seg_1.ts": (200, "x"),
        # published, then rewritten by someone: a rendition on another origin
        "/m/hls/2/master.m3u8": (
            200,
            f'#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="{other}/latest/meta-data"\n',
        ),
        "/m/hls/3/master.m3u8": (302, f"{other}/latest/meta-data"),
        "/m/hls/4/master.m3u8": (200, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../../../private/index.m3u8\n"),
    }
    cdn = serve(pages, cdn_requests)
    base = f"http://127.0.0.1:{cdn.server_address[1]}/m"
    settings = Settings.from_values({"bucket": "b", "public_base_url": base, "http_timeout_seconds": "5"})
    events = [
        (1, f"{base}/hls/1/master.m3u8"),
        (2, f"{base}/hls/2/master.m3u8"),
        (3, f"{base}/hls/3/master.m3u8"),
        (4, f"{base}/hls/4/master.m3u8"),
        (5, f"{other}/latest/meta-data"),  # an event posted by hand
        (6, f"{base}/hls/1/../../../admin"),
        (7, f"http://user@127.0.0.1:{cdn.server_address[1]}/m/hls/1/master.m3u8"),
    ]
    try:
        with caplog.at_level(logging.WARNING):
            warmed = warm_up_published(events, settings=settings, segments=2, log=logging.getLogger("warm"))
    finally:
        cdn.shutdown()
        elsewhere.shutdown()
    assert warmed == [1]
    assert elsewhere_requests == []
    assert set(cdn_requests) <= set(pages) and "/admin" not in cdn_requests
    assert cdn_requests.count("/m/hls/1/360p/seg_1.ts") == 1
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 6
