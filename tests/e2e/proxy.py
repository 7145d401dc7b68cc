"""A TCP proxy whose network can be "dropped": a phone walking out of the Wi-Fi.

Runs its own event loop in a thread, so Playwright's sync API keeps the test's thread.
``drop()`` cuts every open connection (the browser sees its websocket and event stream die
mid-stream) and refuses new ones until ``restore()``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._online = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        loop.run_forever()
        # Stopped: close everything this loop owns, then the loop itself.
        for writer in list(self._writers):
            if writer.transport is not None:
                writer.transport.abort()
        self._server.close()
        loop.run_until_complete(self._server.wait_closed())
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._online:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def drop(self) -> None:
        """Off the network: cut everything, refuse new connections."""

        def cut() -> None:
            self._online = False
            for writer in list(self._writers):
                transport = writer.transport
                if transport is not None:
                    transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(cut)

    def restore(self) -> None:
        def up() -> None:
            self._online = True

        self._loop.call_soon_threadsafe(up)
