"""The link the upload benchmark uses to stand for a remote bucket: bytes intact, round trip added."""

import socket
import socketserver
import threading
import time

from bench.latency import DelayedLink


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


def test_the_link_forwards_every_byte_in_order_and_adds_its_round_trip():
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        link = DelayedLink(server.server_address[1], round_trip_ms=200)
        try:
            payload = bytes(range(256)) * 4096  # 1 MiB, so it crosses the link in many pieces
            with socket.create_connection(("127.0.0.1", link.port)) as conn:
                started = time.monotonic()
                conn.sendall(b"ping")
                assert conn.recv(4) == b"ping"
                round_trip = time.monotonic() - started
                conn.sendall(payload)
                received = bytearray()
                while len(received) < len(payload):
                    received += conn.recv(65536)
            assert round_trip >= 0.2  # a lower bound only: the link may never be faster than its delay
            assert bytes(received) == payload
        finally:
            link.close()
            server.shutdown()
