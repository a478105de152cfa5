"""TCP_NODELAY on the dashboard's sockets (dashboard.tcp): the listening socket and the open connections on the
server's port get it, other sockets keep theirs, and connections accepted later inherit it (Linux)."""

from __future__ import annotations

import socket
import sys

import pytest

from dashboard import tcp

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd (Linux)")


def nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def listening() -> socket.socket:
    server = socket.socket(family=socket.AF_INET)  # as Streamlit's server creates it: no protocol named
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_the_server_port_sends_without_delay_and_other_sockets_are_left_alone():
    server, other = listening(), listening()
    port = server.getsockname()[1]
    with server, other, socket.create_connection(("127.0.0.1", port)) as client:
        accepted, _ = server.accept()
        with accepted:
            assert nodelay(server) == nodelay(accepted) == 0  # the default: Nagle's algorithm on
            assert tcp.send_without_delay(port) == 2  # the listening socket and the open connection
            assert nodelay(server) == nodelay(accepted) == 1
            assert nodelay(other) == 0 and nodelay(client) == 0  # another port; the client side of the connection
            with socket.create_connection(("127.0.0.1", port)):
                later, _ = server.accept()
                with later:
                    assert nodelay(later) == 1  # a tab that connects later inherits it


def test_without_proc_nothing_changes(tmp_path):
    assert tcp.send_without_delay(8501, fds=tmp_path / "absent") == 0
