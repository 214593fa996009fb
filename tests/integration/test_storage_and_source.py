"""Object storage and source fetching against real servers: SeaweedFS and a local HTTP server."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devenv import services
from hls_operators.core.errors import ErrorClass, MigrationError, redacted
from hls_operators.core.publishing import object_headers
from hls_operators.edges import source
from hls_operators.edges.source import SourceRules, download_source, storage_location
from hls_operators.edges.storage import ObjectStore
from tests import loopback

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg


@pytest.fixture
def store(seaweedfs) -> ObjectStore:
    return seaweedfs.new_store("t")


@pytest.fixture(scope="module")
def http_server():
    """Serves /ok.mp4 (1000 bytes), /error (HTTP 500), redirects; everything else is 404."""

    class Handler(loopback.QuietHandler):
        def do_GET(self):
            redirects = {
                "/redirect-ok": "/ok.mp4",
                "/redirect-metadata": "http://169.254.169.254/latest/meta-data/",
                "/redirect-loopback": f"http://localhost:{services.free_port()}/secret.mp4",
            }
            if self.path in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/ok.mp4":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 1000)
            else:
                self.send_response(500 if self.path == "/error" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    server = loopback.serve(Handler)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def rules(*, max_bytes: int = 1000, timeout: float = 5, **more) -> SourceRules:
    return SourceRules(public_base_url="https://cdn.example/m", max_bytes=max_bytes, timeout=timeout, **more)


def fetch(url: str, store: ObjectStore, target: Path, *, max_bytes: int = 10_000, allowed: str = ""):
    if not allowed and url.startswith("http://127.0.0.1:"):
        allowed = url.split("/")[2]  # the test server itself is explicitly allowed
    return download_source(
        url, target, store=store, rules=rules(max_bytes=max_bytes, allowed_hosts=frozenset({allowed}))
    )


def test_uploads_keep_content_type_and_cache_control(store, tmp_path, seaweedfs):
    files = []
    for name in ("master.m3u8", "720p/seg_00000.ts", "thumbs/thumb_000.jpg"):
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(b"data " + name.encode())
        files.append((path, f"set/{name}", object_headers(name)))
    store.upload_many(files, concurrency=4)
    for _path, key, headers in files:
        head = seaweedfs.client().head_object(Bucket=store.bucket, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (headers["ContentType"], headers["CacheControl"])
    assert store.list_sizes("set") == {
        "master.m3u8": 16,
        "720p/seg_00000.ts": 22,
        "thumbs/thumb_000.jpg": 25,
    }
    assert store.delete_prefix("set") == 3 and store.list_sizes("set") == {}


def test_sources_are_read_through_storage_when_they_live_there(store, tmp_path):
    assert storage_location("s3://other/a/b.mp4", public_base_url="https://cdn.example/m", bucket="hls") == (
        "other",
        "a/b.mp4",
    )
    assert storage_location(
        "https://cdn.example/m/up/My%20Film.MP4?X-Amz-Expires=60",
        public_base_url="https://cdn.example/m/",
        bucket="hls",
    ) == ("hls", "up/My Film.MP4")
    assert (
        storage_location("https://elsewhere.example/a.mp4", public_base_url="https://cdn.example/m", bucket="hls")
        is None
    )

    (tmp_path / "in.mp4").write_bytes(b"m" * 100)
    store.upload_file(tmp_path / "in.mp4", "uploads/1/in.mp4")
    fetched = fetch("https://cdn.example/m/uploads/1/in.mp4?sig=1", store, tmp_path / "a.mp4")
    assert fetched.read_bytes() == b"m" * 100
    assert fetch(f"s3://{store.bucket}/uploads/1/in.mp4", store, tmp_path / "b.mp4").stat().st_size == 100


def test_originals_on_the_storage_servers_own_endpoint_are_read_through_its_connection(store, seaweedfs, tmp_path):
    """A self-hosted SeaweedFS serving the originals too: its URLs are on loopback, which the host
    check refuses, but they are the storage connection's own endpoint, so they are read through it
    (path-style bucket/key) without listing the host in hls_allowed_source_hosts."""
    originals = f"originals-{uuid.uuid4().hex[:8]}"
    services.create_bucket(seaweedfs.client(), originals)
    ObjectStore(seaweedfs.client(), originals).upload_file(
        _write(tmp_path / "src.mp4", b"o" * 300), "films/My Film.mp4"
    )
    assert storage_location(
        f"{seaweedfs.endpoint}/{originals}/films/My%20Film.mp4",
        public_base_url="https://cdn.example/m",
        bucket="hls",
        storage_endpoint=seaweedfs.endpoint,
    ) == (originals, "films/My Film.mp4")
    url = f"{seaweedfs.endpoint}/{originals}/films/My%20Film.mp4"
    path = download_source(url, tmp_path / "o.mp4", store=store, rules=rules())
    assert path.read_bytes() == b"o" * 300
    # another port on the same loopback is still an internal address, and refused
    other = url.replace(f":{urlsplit(seaweedfs.endpoint).port}/", f":{services.free_port()}/")
    with pytest.raises(MigrationError) as caught:
        download_source(other, tmp_path / "x.mp4", store=store, rules=rules())
    assert caught.value.error_class is ErrorClass.SOURCE_FORBIDDEN


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("path", "error_class", "retryable"),
    [("/missing.mp4", ErrorClass.SOURCE_UNREACHABLE, False), ("/error", ErrorClass.SOURCE_UNREACHABLE, True)],
)
def test_http_failures_are_classified(http_server, store, tmp_path, path, error_class, retryable):
    with pytest.raises(MigrationError) as caught:
        fetch(http_server + path, store, tmp_path / "x.mp4")
    assert (caught.value.error_class, caught.value.retryable) == (error_class, retryable)


def test_http_sources_are_streamed_under_a_size_cap(http_server, store, tmp_path):
    assert fetch(http_server + "/ok.mp4", store, tmp_path / "ok.mp4").stat().st_size == 1000
    with pytest.raises(MigrationError) as caught:
        fetch(http_server + "/ok.mp4", store, tmp_path / "big.mp4", max_bytes=999)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


def test_missing_objects_and_unreachable_hosts(store, tmp_path):
    with pytest.raises(MigrationError) as caught:
        fetch("https://cdn.example/m/uploads/none.mp4?X-Amz-Signature=s1gnature", store, tmp_path / "x.mp4")
    assert caught.value.error_class is ErrorClass.SOURCE_UNREACHABLE and not caught.value.retryable
    # a presigned URL's signature reaches neither the ledger's message nor the status API that shows it
    assert "uploads/none.mp4?…" in caught.value.message and "s1gnature" not in str(caught.value)
    closed_port = services.free_port()  # nothing listens there: a real refused connection
    with pytest.raises(MigrationError) as caught:
        fetch(f"http://127.0.0.1:{closed_port}/a.mp4", store, tmp_path / "y.mp4", allowed="127.0.0.1")
    assert caught.value.error_class is ErrorClass.SOURCE_UNREACHABLE and caught.value.retryable


def test_storage_that_does_not_answer_is_a_retryable_storage_error(tmp_path):
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{services.free_port()}",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    (tmp_path / "f.ts").write_bytes(b"x")
    with pytest.raises(MigrationError) as caught:
        ObjectStore(client, "bucket").upload_file(tmp_path / "f.ts", "k.ts")
    assert caught.value.error_class is ErrorClass.STORAGE_UNAVAILABLE and caught.value.retryable
    # A streamed upload fails the same way, and its writer is not left blocked on the pipe.
    with pytest.raises(MigrationError) as caught:
        ObjectStore(client, "bucket").upload_stream("k.tar", lambda stream: stream.write(b"x" * 20_000_000))
    assert caught.value.error_class is ErrorClass.STORAGE_UNAVAILABLE and caught.value.retryable


@pytest.mark.parametrize("megabytes", [1, 20])  # one request, or a multipart upload already under way
def test_a_streamed_upload_whose_writer_fails_stores_nothing(store, megabytes):
    def write(stream):
        stream.write(os.urandom(megabytes * 1_000_000))
        raise OSError("the folder being packed vanished")

    with pytest.raises(OSError, match="vanished"):
        store.upload_stream("hls-work/1/v/chunk_000.tar", write)
    assert store.list_sizes("hls-work") == {}
    store.upload_stream("hls-work/1/v/chunk_000.tar", lambda stream: stream.write(b"complete"))
    assert store.read_text("hls-work/1/v/chunk_000.tar") == "complete"


def test_redirects_are_followed_hop_by_hop(http_server, store, tmp_path):
    assert fetch(http_server + "/redirect-ok", store, tmp_path / "r.mp4").stat().st_size == 1000


@pytest.mark.parametrize("path", ["/redirect-metadata", "/redirect-loopback"])
def test_redirects_to_internal_addresses_are_refused(http_server, store, tmp_path, path):
    with pytest.raises(MigrationError) as caught:
        fetch(http_server + path, store, tmp_path / "r.mp4")
    assert caught.value.error_class is ErrorClass.SOURCE_FORBIDDEN and not caught.value.retryable
    assert not (tmp_path / "r.mp4").exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/a.mp4",
        "http://[::1]/a.mp4",
        "http://169.254.169.254/a.mp4",
        "file:///etc/passwd",
        # internal IPv4 addresses in IPv6 forms: mapped, NAT64 (well-known and local prefix), 6to4, Teredo, compatible
        "http://[::ffff:127.0.0.1]/a.mp4",
        "http://[64:ff9b::a9fe:a9fe]/a.mp4",
        "http://[64:ff9b:1::a00:1]/a.mp4",
        "http://[2002:7f00:1::1]/a.mp4",
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/a.mp4",
        "http://[::a00:1]/a.mp4",
        "http://media.example:99999/a.mp4",  # no server has such a port
    ],
)
def test_internal_sources_are_refused_unless_allowed(store, tmp_path, url):
    with pytest.raises(MigrationError) as caught:
        download_source(url, tmp_path / "x.mp4", store=store, rules=rules(max_bytes=10, timeout=2))
    assert caught.value.error_class is ErrorClass.SOURCE_FORBIDDEN


def test_a_name_that_resolves_elsewhere_after_the_check_still_reaches_only_the_checked_address(
    store, tmp_path, monkeypatch
):
    """DNS rebinding: the source's name resolves to a public address when it is checked, then to an
    internal one. A real attacker's DNS server cannot run here, and no public address may be
    reached from this machine, so the resolver is a fake, and so is what counts as public: in this
    test 127.0.0.1 plays the public server, 127.0.0.2 the internal one. The sockets, servers and
    HTTP are real."""
    served = {}

    def server(address: str, body: bytes, port: int = 0) -> http.server.ThreadingHTTPServer:
        class Handler(loopback.QuietHandler):
            def do_GET(self):
                served.setdefault(address, []).append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return loopback.serve(Handler, address, port)

    public = server("127.0.0.1", b"the movie")
    port = public.server_address[1]
    internal = server("127.0.0.2", b"internal secrets", port)
    real_getaddrinfo, lookups = socket.getaddrinfo, []

    def rebinding_resolver(host, *args, **kwargs):
        if host != "media.example":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_resolver)
    monkeypatch.setattr(source, "is_internal", lambda ip: str(ip) != "127.0.0.1" and not ip.is_global)
    try:
        path = download_source(f"http://media.example:{port}/movie.mp4", tmp_path / "m.mp4", store=store, rules=rules())
        assert path.read_bytes() == b"the movie"
        assert served == {"127.0.0.1": [f"media.example:{port}"]} and lookups == ["media.example"]
        # the same name, resolved to the internal address at check time, is refused before any request
        with pytest.raises(MigrationError) as caught:
            download_source(f"http://media.example:{port}/movie.mp4", tmp_path / "n.mp4", store=store, rules=rules())
        assert caught.value.error_class is ErrorClass.SOURCE_FORBIDDEN and "127.0.0.2" not in served
    finally:
        public.shutdown()
        internal.shutdown()


def test_sources_outside_the_allowed_buckets_and_prefixes_are_refused_before_storage_is_asked(
    store, seaweedfs, tmp_path
):
    """Whoever writes video_url must not get any object the pipeline's credentials read published,
    nor learn whether it exists: a private object, a missing one and a disguised one are refused
    alike, with one class and one message, before storage is asked."""
    private = f"private-{uuid.uuid4().hex[:8]}"
    services.create_bucket(seaweedfs.client(), private)
    ObjectStore(seaweedfs.client(), private).upload_file(_write(tmp_path / "r.pdf", b"secret"), "contracts/report.pdf")
    store.upload_file(_write(tmp_path / "in.mp4", b"m" * 100), "uploads/1/in.mp4")
    store.upload_file(_write(tmp_path / "other.mp4", b"s" * 100), "secret/x.mp4")
    only_uploads = rules(allowed_locations=((store.bucket, "uploads"),))
    refused = [
        f"s3://{private}/contracts/report.pdf#.mp4",  # what the catalog's selection takes for an MP4
        f"s3://{private}/contracts/report.pdf",
        f"s3://{private}/contracts/missing.mp4",
        f"{seaweedfs.endpoint}/{private}/contracts/report.pdf",
        f"s3://{store.bucket}/secret/x.mp4",  # the right bucket, outside the prefix
        "https://cdn.example/m/secret/x.mp4",
        f"s3://{store.bucket}/uploads/../secret/x.mp4",
        "https://cdn.example/m/uploads/1/in.mp4#.mp4",
        "https://cdn.example@media.example/m/uploads/1/in.mp4",
    ]
    messages = set()
    for url in refused:
        with pytest.raises(MigrationError) as caught:
            download_source(url, tmp_path / "x.mp4", store=store, rules=only_uploads)
        assert caught.value.error_class is ErrorClass.SOURCE_FORBIDDEN and not caught.value.retryable, url
        messages.add(caught.value.message.replace(repr(redacted(url)), "URL"))
        assert not (tmp_path / "x.mp4").exists()
    assert len(messages) == 2  # "not under an allowed bucket", "a fragment or userinfo": never "missing"
    path = download_source(
        f"s3://{store.bucket}/uploads/1/in.mp4", tmp_path / "ok.mp4", store=store, rules=only_uploads
    )
    assert path.read_bytes() == b"m" * 100
    assert download_source(
        "https://cdn.example/m/uploads/1/in.mp4?v=2", tmp_path / "ok2.mp4", store=store, rules=only_uploads
    ).exists()


def test_a_source_that_drips_its_bytes_is_stopped_by_a_deadline_from_its_size(store, tmp_path):
    """Each byte comes well within the read timeout, so only a deadline for the whole download
    (its declared 1000 bytes at the minimum rate, after the timeout) stops it, rather than the
    100 s the server would take."""
    stop = threading.Event()

    class Dripping(loopback.QuietHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    if stop.wait(0.1):
                        return
                    self.wfile.write(b"x")
                    self.wfile.flush()
            except OSError:  # the client gave up
                return

    server = loopback.serve(Dripping)
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        slow = rules(timeout=1, min_bytes_per_second=2000, allowed_hosts=frozenset({host}))
        assert slow.deadline_seconds(1000) == 1.5
        with pytest.raises(MigrationError) as caught:
            download_source(f"http://{host}/drip.mp4", tmp_path / "d.mp4", store=store, rules=slow)
        assert caught.value.error_class is ErrorClass.SOURCE_UNREACHABLE and caught.value.retryable
        assert "slower than hls_min_source_kbps" in caught.value.message
        assert (tmp_path / "d.mp4").stat().st_size < 100
    finally:
        stop.set()
        server.shutdown()


def test_a_host_of_the_internet_cannot_redirect_to_an_allowed_internal_host(store, tmp_path, monkeypatch):
    """hls_allowed_source_hosts opens an internal media server to the catalog's URLs, not to
    whoever a public source redirects to. Only loopback can be served here, so 127.0.0.1 plays the
    public server and 127.0.0.2 the internal one (``is_internal`` says so); sockets and HTTP are real."""
    internal_requests: list[str] = []

    def server(address: str, port: int, answer) -> http.server.ThreadingHTTPServer:
        class Handler(loopback.QuietHandler):
            def do_GET(self):
                answer(self)

        return loopback.serve(Handler, address, port)

    def internal_answer(handler):
        internal_requests.append(handler.path)
        if handler.path == "/moved.mp4":  # the internal server's redirect to itself stays allowed
            handler.send_response(302)
            handler.send_header("Location", "/movie.mp4")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Length", "8")
        handler.end_headers()
        handler.wfile.write(b"internal")

    internal = server("127.0.0.2", 0, internal_answer)
    port = internal.server_address[1]

    def public_answer(handler):
        handler.send_response(302)
        handler.send_header("Location", f"http://127.0.0.2:{port}/movie.mp4")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    public = server("127.0.0.1", port, public_answer)
    monkeypatch.setattr(source, "is_internal", lambda ip: str(ip) != "127.0.0.1" and not ip.is_global)
    allowed = rules(allowed_hosts=frozenset({f"127.0.0.2:{port}"}))
    try:
        with pytest.raises(MigrationError) as caught:
            download_source(f"http://127.0.0.1:{port}/movie.mp4", tmp_path / "m.mp4", store=store, rules=allowed)
        assert caught.value.error_class is ErrorClass.SOURCE_FORBIDDEN and internal_requests == []
        got = download_source(f"http://127.0.0.2:{port}/moved.mp4", tmp_path / "n.mp4", store=store, rules=allowed)
        assert got.read_bytes() == b"internal" and internal_requests == ["/moved.mp4", "/movie.mp4"]
    finally:
        public.shutdown()
        internal.shutdown()
