"""Downloading a movie's source MP4 to local disk, from object storage or over HTTP(S)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import urllib3

from hls_operators.core.errors import ErrorClass, MigrationError, is_disk_full
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import Settings

CHUNK_BYTES = 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class SourceRules:
    """What a source may be: where it may be read from, how large, and how slowly."""

    public_base_url: str
    max_bytes: int
    timeout: float  # connect, and each read
    min_bytes_per_second: float = 0.0  # after the first ``timeout`` seconds, on average; 0: no floor
    allowed_hosts: frozenset[str] = frozenset()  # http(s) hosts allowed to resolve to internal addresses
    # (bucket, key prefix) a source in storage must lie under; empty: any bucket the connection reads
    allowed_locations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceRules:
        return cls(
            public_base_url=settings.public_base_url,
            max_bytes=settings.max_source_bytes,
            timeout=settings.http_timeout_seconds,
            min_bytes_per_second=settings.min_source_kbps * 1000 / 8,
            allowed_hosts=settings.source_hosts_allowed,
            allowed_locations=settings.source_locations_allowed,
        )

    def deadline_seconds(self, size: int | None) -> float | None:
        """How long a download of ``size`` bytes (None: not declared, the cap) may take in all."""
        if not self.min_bytes_per_second:
            return None
        return (
            self.timeout + min(size if size is not None else self.max_bytes, self.max_bytes) / self.min_bytes_per_second
        )


def refuse_disguised(url: str) -> None:
    """A fragment or userinfo has no business in a source URL: ``report.pdf#.mp4`` passes for an
    MP4 to the catalog's selection, and ``https://cdn@evil/`` for a trusted host to a reader. Nor
    has a port no server can have."""
    parts = urlsplit(url)
    if "#" in url or "@" in parts.netloc:
        raise MigrationError(ErrorClass.SOURCE_FORBIDDEN, f"refused source URL {url!r}: it has a fragment or userinfo")
    try:
        _ = parts.port  # raises on a port no server can have
    except ValueError as error:
        raise MigrationError(ErrorClass.SOURCE_FORBIDDEN, f"refused source URL {url!r}: {error}") from error


def check_location_allowed(url: str, bucket: str, key: str, allowed: tuple[tuple[str, str], ...]) -> None:
    """Refuse a source in storage outside the allowed buckets and prefixes, before storage is asked
    anything: whether such a key exists is not the URL's writer's to learn."""
    segments = key.split("/")
    inside = any(
        bucket == allowed_bucket and (not prefix or key.startswith(prefix + "/")) for allowed_bucket, prefix in allowed
    )
    if (allowed and not inside) or any(segment in ("", ".", "..") for segment in segments):
        raise MigrationError(
            ErrorClass.SOURCE_FORBIDDEN,
            f"refused source URL {url!r}: not under a bucket or prefix of hls_source_buckets",
        )


def storage_location(
    url: str, *, public_base_url: str, bucket: str, storage_endpoint: str | None = None
) -> tuple[str, str] | None:
    """(bucket, key) when the URL is read through the storage connection, else None.

    ``s3://bucket/key`` names its bucket; a URL under the public base is a key of the HLS bucket;
    a URL on the storage connection's own endpoint (a self-hosted MinIO or SeaweedFS that serves
    the originals too) is path-style ``/bucket/key`` there, read with the connection's credentials
    rather than refused as an internal address.
    """
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return parts.netloc, unquote(parts.path.lstrip("/"))
    base = public_base_url.rstrip("/") + "/"
    if url.startswith(base):
        return bucket, unquote(urlsplit(url[len(base) :]).path)
    if storage_endpoint and _origin(url) == _origin(storage_endpoint):
        named_bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        if named_bucket and key:
            return named_bucket, key
    return None


def _origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port: what makes two URLs the same server."""
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def download_source(url: str, target: Path, *, store: ObjectStore, rules: SourceRules) -> Path:
    """Download ``url`` to ``target`` within ``rules``; classified errors for missing, oversized,
    forbidden, unreachable or too slow sources. Only the hosts ``rules.allowed_hosts`` names may
    resolve to internal addresses; no other source, nor any redirect, may."""
    refuse_disguised(url)
    try:
        location = storage_location(
            url, public_base_url=rules.public_base_url, bucket=store.bucket, storage_endpoint=store.endpoint
        )
        if location is not None:
            bucket, key = location
            check_location_allowed(url, bucket, key, rules.allowed_locations)
            size = store.object_size(key, bucket=bucket)
            if size is None:
                raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{url} does not exist in storage")
            _check_size(size, rules.max_bytes, url)
            store.download_file(key, target, bucket=bucket)
        elif urlsplit(url).scheme in ("http", "https"):
            _download_http(url, target, rules)
        else:
            raise MigrationError(ErrorClass.SOURCE_FORBIDDEN, f"refused source URL {url!r}: only s3:// and http(s)")
    except OSError as error:
        if is_disk_full(error):
            raise MigrationError(ErrorClass.DISK_FULL, f"no space left for the source in {target.parent}") from error
        raise
    return target


def _check_size(size: int, max_bytes: int, url: str) -> None:
    if size > max_bytes:
        raise MigrationError(ErrorClass.UNSUPPORTED, f"{url} is {size} bytes, over the limit of {max_bytes}")


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, link-local (cloud metadata services), private, shared or reserved: not the public
    internet, where sources live. An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo,
    NAT64) is as internal as the IPv4 address it leads to."""
    if not address.is_global:
        return True
    return address.version == 6 and any(not embedded.is_global for embedded in _embedded_ipv4(address))


NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [embedded for embedded in (address.ipv4_mapped, address.sixtofour) if embedded is not None]
    found += list(address.teredo or ())
    if any(address in prefix for prefix in NAT64_PREFIXES) or int(address) >> 32 == 0:  # NAT64, IPv4-compatible
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def vetted_address(url: str, allowed_hosts: frozenset[str]) -> str:
    """The address to connect to for ``url``: resolved once, and refused when any address the name
    resolves to is internal, unless the host is allowed explicitly. The download connects to this
    very address, so a name that resolves elsewhere the second time (DNS rebinding) cannot reach
    an internal address between the check and the connection."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MigrationError(ErrorClass.SOURCE_FORBIDDEN, f"refused source URL {url!r}: not http(s)")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)]
    except socket.gaierror as error:
        raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{parts.hostname}: {error}", retryable=True) from error
    if not _names_allowed_host(url, allowed_hosts):
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if is_internal(ip):
                raise MigrationError(
                    ErrorClass.SOURCE_FORBIDDEN,
                    f"refused source {parts.hostname}:{port}: it resolves to the internal address {ip}",
                )
    return addresses[0]


def _names_allowed_host(url: str, allowed_hosts: frozenset[str]) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname in allowed_hosts or f"{parts.hostname}:{port}" in allowed_hosts


def _get_pinned(url: str, address: str, timeout: float) -> urllib3.BaseHTTPResponse:
    """GET ``url`` from ``address``, whatever its name resolves to now: the Host header, TLS server
    name and certificate check still use the URL's host."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    options = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=parts.hostname, assert_hostname=parts.hostname, **options
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "hls-migration"}
    return pool.urlopen("GET", target, headers=headers, redirect=False, preload_content=False, retries=False)


def _download_http(url: str, target: Path, rules: SourceRules) -> None:
    # An allowed internal host is reachable from the catalog's URL and from its own redirects, never
    # from a redirect by a host of the internet.
    allowed_hosts = rules.allowed_hosts
    try:
        # Redirects are followed here, one hop at a time, so that each hop's host is checked.
        for _hop in range(MAX_REDIRECTS + 1):
            response = _get_pinned(url, vetted_address(url, allowed_hosts), rules.timeout)
            if response.status not in (301, 302, 303, 307, 308) or not response.headers.get("Location"):
                break
            if not _names_allowed_host(url, allowed_hosts):
                allowed_hosts = frozenset()
            url = urljoin(url, response.headers["Location"])
            refuse_disguised(url)
            response.release_conn()
        else:
            raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"more than {MAX_REDIRECTS} redirects")
        try:
            if response.status in (404, 410, 401, 403):
                raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{url} answered HTTP {response.status}")
            if response.status >= 400:
                # 5xx and the like: the server may recover, so this one is worth a retry.
                raise MigrationError(
                    ErrorClass.SOURCE_UNREACHABLE, f"{url} answered HTTP {response.status}", retryable=True
                )
            declared = int(response.headers.get("Content-Length") or 0)
            _check_size(declared, rules.max_bytes, url)
            _receive(response, target, url, rules, rules.deadline_seconds(declared or None))
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as error:
        raise MigrationError(ErrorClass.SOURCE_UNREACHABLE, f"{url}: {error}", retryable=True) from error


def _receive(
    response: urllib3.BaseHTTPResponse, target: Path, url: str, rules: SourceRules, deadline: float | None
) -> None:
    """The body into ``target``, read as it arrives (``read1``: one socket read, never waiting for a
    whole chunk), so that a server dripping a byte at a time meets the deadline, not only the
    per-read timeout it never trips."""
    started, received = time.monotonic(), 0
    with target.open("wb") as out:
        while chunk := response.read1(CHUNK_BYTES):
            received += len(chunk)
            _check_size(received, rules.max_bytes, url)
            out.write(chunk)
            if deadline is not None and time.monotonic() - started > deadline:
                raise MigrationError(
                    ErrorClass.SOURCE_UNREACHABLE,
                    f"{url} sent {received} bytes in {deadline:.0f} s, slower than hls_min_source_kbps",
                    retryable=True,
                )
