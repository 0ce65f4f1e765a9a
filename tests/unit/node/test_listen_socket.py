"""The node's listening socket: accepted connections get TCP_NODELAY (the 40 ms stall's fix).

Before the fix the socket was ``socket.socket(AF_INET, SOCK_STREAM)`` (proto 0), asyncio's
``_set_nodelay`` skipped every accepted connection, and each kept-alive response waited ~40 ms
for the client's delayed ACK. This accepts a real loopback connection through asyncio, as
uvicorn does, and reads the option on the server side of it.
"""

from __future__ import annotations

import asyncio
import socket

from etm_bridge.node.server import bind_socket


def _accepted_nodelay(sock: socket.socket) -> int:
    async def run() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(run())


def test_accepted_connections_have_nodelay() -> None:
    sock = bind_socket("127.0.0.1", 0)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert _accepted_nodelay(sock)


def test_the_old_socket_left_nagle_on() -> None:
    """The regression this guards: a proto-0 listening socket gives Nagle-on connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    assert not _accepted_nodelay(sock)
