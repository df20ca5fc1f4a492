"""os.fork(): sockets and stacks in a forked child.

The tests are forked themselves (pytest-forked) so that whatever a child
does to the stack library cannot leak into the rest of the session; inside,
in_child() forks once more and reports the child's result back.
"""

from __future__ import annotations

import os
import socket

import pytest

import vdestack
from conftest import A_IP, B_IP, BUSYBOX, ChildError, EchoServer, in_child, recv_exactly

pytestmark = pytest.mark.forked


@pytest.fixture
def echo(pair):
    srv = pair.a.socket()
    srv.bind((A_IP, 0))
    srv.listen(8)
    server = EchoServer(srv)
    yield server
    server.close()


def test_inherited_socket_works_in_child(pair, echo) -> None:
    client = pair.b.socket()
    client.settimeout(10)
    client.connect(echo.addr)

    def child() -> bytes:
        client.sendall(b"sent by the child")
        return recv_exactly(client, 17)

    assert in_child(child) == b"sent by the child"
    client.sendall(b"+parent")                     # still ours too
    assert recv_exactly(client, 7) == b"+parent"
    client.close()
    assert echo.received[echo.peers[0]] == b"sent by the child+parent"


def test_new_socket_in_child_is_in_the_stack(pair, echo) -> None:
    def child() -> tuple:
        with pair.b.socket() as c:                 # vde_msocket in the child
            c.settimeout(10)
            c.connect(echo.addr)
            c.sendall(b"new socket in child")
            return c.getsockname(), recv_exactly(c, 19)

    name, echoed = in_child(child)
    assert echoed == b"new socket in child"
    assert name[0] == B_IP and echo.peers == [tuple(name)]


def test_default_stack_in_child(pair, echo) -> None:
    vdestack.default_stack(pair.b)

    def child() -> bytes:
        with socket.create_connection(echo.addr, timeout=10) as c:
            c.sendall(b"default in child")
            return recv_exactly(c, 16)

    try:
        assert in_child(child) == b"default in child"
    finally:
        vdestack.default_stack(None)
    assert echo.peers[0][0] == B_IP


def test_cmd_in_child_works_or_fails_clearly(pair, tmp_path) -> None:
    marker = tmp_path / "ran-in-child"

    def child() -> int:
        return pair.b.cmd(f"{BUSYBOX} touch {marker}; {BUSYBOX} sh -c 'exit 3'")

    try:
        assert in_child(child) == 3
        assert marker.exists()
    except ChildError as exc:
        # allowed: a clear OSError saying that the command could not run
        assert exc.typename in ("OSError", "PermissionError", "ProcessLookupError",
                                "ChildProcessError"), exc
        assert exc.errno and "cannot run command" in exc.message, exc
        assert not marker.exists()
    # the parent's stack is untouched either way
    assert pair.b.cmd(f"{BUSYBOX} sh -c 'exit 4'") == 4


def test_close_in_child_leaves_parent_stack_working(pair, echo) -> None:
    before = pair.b.stats()

    def child() -> bool:
        pair.b.close()
        pair.a.close()
        return pair.a.closed and pair.b.closed

    assert in_child(child) is True
    assert not pair.a.closed and not pair.b.closed
    # commands, sockets and the link of the parent still work
    assert pair.b.cmd(f"{BUSYBOX} ip link show vde0") == 0
    with pair.b.socket() as c:
        c.settimeout(10)
        c.connect(echo.addr)
        c.sendall(b"still linked")
        assert recv_exactly(c, 12) == b"still linked"
    after = pair.b.stats()
    assert after["rx_frames"] > before["rx_frames"] and after["hung_up"] == 0


def test_child_exiting_without_close(pair, echo) -> None:
    def child() -> int:
        s = pair.a.socket()                          # uses the stack, then just exits
        return s.fileno()

    assert in_child(child) >= 0
    with pair.b.socket() as c:
        c.settimeout(10)
        c.connect(echo.addr)
        c.sendall(b"ok")
        assert recv_exactly(c, 2) == b"ok"


def test_new_stack_in_child(tmp_path) -> None:
    """A child can make (and delete) stacks of its own."""
    vnl = f"ptp://{tmp_path}/childlink"

    def child() -> tuple:
        with vdestack.Stack(vnl) as a, vdestack.Stack(vnl) as b:
            for s, ip in ((a, A_IP), (b, B_IP)):
                assert s.cmd(f"{BUSYBOX} ip addr add {ip}/24 dev vde0; "
                             f"{BUSYBOX} ip link set vde0 up") == 0
            srv = a.socket()
            srv.bind((A_IP, 0))
            srv.listen(1)
            with srv, b.socket() as c:
                c.settimeout(10)
                c.connect(srv.getsockname())
                conn, peer = srv.accept()
                with conn:
                    conn.sendall(b"child stacks")
                    return peer, recv_exactly(c, 12)

    with vdestack.Stack() as mine:                   # the parent has a stack of its own
        peer, data = in_child(child)
        assert mine.cmd("/bin/true") == 0
    assert peer[0] == B_IP and data == b"child stacks"
    assert not os.path.exists(f"{tmp_path}/childlink")
