"""A TCP forwarder that delays every byte in each direction: a remote bucket's round trip on loopback.

Only latency is added, not a bandwidth limit, so what it shows is how well concurrency hides the
wait of each request, which is what a bucket in another machine or region costs a sequential upload.
"""

from __future__ import annotations

import asyncio
import threading


class DelayedLink:
    """Forwards ``127.0.0.1:port`` to ``target_port`` with ``round_trip_ms / 2`` of delay each way."""

    def __init__(self, target_port: int, round_trip_ms: float):
        self.target_port = target_port
        self.one_way_s = round_trip_ms / 2000
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(self._connect, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _connect(self, client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        except asyncio.CancelledError:
            pass  # closed by close(): the connection just ends
        finally:
            client_writer.close()
            server_writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Each piece read is written ``one_way_s`` after it arrived, in order."""
        pending: asyncio.Queue = asyncio.Queue()

        async def send() -> None:
            while (item := await pending.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(send())
        try:
            while data := await reader.read(1 << 20):
                pending.put_nowait((self.loop.time() + self.one_way_s, data))
        except ConnectionError:
            pass
        pending.put_nowait(None)
        try:
            await sender
        except ConnectionError:
            pass

    def close(self) -> None:
        """Stop listening and drop the connections still open (the client's idle keep-alives)."""

        async def shutdown() -> None:
            self.server.close()
            connections = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
