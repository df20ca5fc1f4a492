"""The default stack: process-wide (default_stack) and scoped (as_default).

Every test here is forked: installing the socket.socket hook and setting a
process-wide default are process-wide changes.  A Probe (see conftest)
tells which stack a socket lives in, by the listener its connection to
127.0.0.1:PORT reaches.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import socket
import socketserver
import threading
import urllib.request
from typing import Any, Dict, List

import pytest

import vdestack
from conftest import A_IP, B_IP, EchoServer, recv_exactly
from conftest import QuietHTTPServer, WhoHandler

pytestmark = pytest.mark.forked


def test_no_default_means_host(pair, probe) -> None:
    assert vdestack.current_stack() is None
    assert probe.new_socket_lives_in() == "host"
    with pair.a.as_default():
        pass
    assert probe.new_socket_lives_in() == "host"          # hook installed, no default


def test_process_wide_default(pair, probe) -> None:
    srv = pair.b.socket()
    srv.bind((B_IP, 0))
    srv.listen(4)
    server = EchoServer(srv)
    try:
        vdestack.default_stack(pair.a)
        assert vdestack.current_stack() is pair.a
        sock = socket.socket()
        with sock:
            assert type(sock) is socket.socket                # the class is unchanged
            sock.bind((A_IP, 0))                             # the stack's address
            assert sock.getsockname()[0] == A_IP
        assert probe.new_socket_lives_in() == "a"
        # every thread sees the process-wide default
        seen: List[str] = []
        t = threading.Thread(target=lambda: seen.append(probe.new_socket_lives_in()))
        t.start()
        t.join()
        assert seen == ["a"]
        # create_connection reaches a server in stack b through the link
        with socket.create_connection(server.addr, timeout=10) as c:
            c.sendall(b"via the default stack")
            assert recv_exactly(c, 21) == b"via the default stack"
            assert c.getsockname()[0] == A_IP
        assert server.peers[-1][0] == A_IP
        vdestack.default_stack(None)
        assert vdestack.current_stack() is None
        assert probe.new_socket_lives_in() == "host"
    finally:
        vdestack.default_stack(None)
        server.close()


def test_closing_the_default_stack_resets_it(pair, probe) -> None:
    vdestack.default_stack(pair.b)
    assert probe.new_socket_lives_in() == "b"
    pair.b.close()
    assert vdestack.current_stack() is None
    assert probe.new_socket_lives_in() == "host"


def test_default_stack_argument_checks(pair) -> None:
    with pytest.raises(TypeError):
        vdestack.default_stack("vde://")                    # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vdestack.as_default(42)                             # type: ignore[arg-type]
    pair.a.close()
    with pytest.raises(ValueError):
        vdestack.default_stack(pair.a)
    with pytest.raises(ValueError):
        pair.a.as_default()


def test_scoped_nesting_and_priority(pair, probe) -> None:
    with pair.a.as_default() as s:
        assert s is pair.a and vdestack.current_stack() is pair.a
        assert probe.new_socket_lives_in() == "a"
        with pair.b.as_default():
            assert probe.new_socket_lives_in() == "b"
            with vdestack.as_default(None):
                assert probe.new_socket_lives_in() == "host"
            assert probe.new_socket_lives_in() == "b"
        assert probe.new_socket_lives_in() == "a"
    assert probe.new_socket_lives_in() == "host"
    vdestack.default_stack(pair.a)
    try:
        with pair.b.as_default():                           # scoped wins
            assert probe.new_socket_lives_in() == "b"
        with vdestack.as_default(None):                     # "host" wins too
            assert probe.new_socket_lives_in() == "host"
        assert probe.new_socket_lives_in() == "a"
    finally:
        vdestack.default_stack(None)


def test_scope_object_is_not_reentrant(pair) -> None:
    scope = pair.a.as_default()
    with scope:
        with pytest.raises(RuntimeError):
            with scope:
                pass
    assert vdestack.current_stack() is None


def test_scoped_per_thread(pair, probe) -> None:
    barrier = threading.Barrier(4)           # three workers and the main thread
    seen: Dict[str, List[str]] = {}

    def worker(name: str, stack: Any) -> None:
        out = seen.setdefault(name, [])
        with (stack.as_default() if stack is not None else vdestack.as_default(None)):
            barrier.wait(10)                  # all three scopes are active now
            for _ in range(3):
                out.append(probe.new_socket_lives_in())
            barrier.wait(10)

    threads = [threading.Thread(target=worker, args=args)
               for args in (("a", pair.a), ("b", pair.b), ("host", None))]
    for t in threads:
        t.start()
    barrier.wait(10)
    main_sees = probe.new_socket_lives_in()      # the main thread: no scope
    barrier.wait(10)
    for t in threads:
        t.join(10)
    assert seen == {"a": ["a"] * 3, "b": ["b"] * 3, "host": ["host"] * 3}
    assert main_sees == "host"


def test_scoped_per_asyncio_task(pair, probe) -> None:
    async def where_async() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", probe.port)
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        return data.decode()

    async def task(stack: Any, gate: asyncio.Event) -> List[str]:
        with stack.as_default():
            await gate.wait()                  # the other task runs its scope meanwhile
            first = await where_async()
            await asyncio.sleep(0.01)
            return [first, await where_async(), probe.new_socket_lives_in()]

    async def main() -> Any:
        gate = asyncio.Event()
        ta = asyncio.ensure_future(task(pair.a, gate))
        tb = asyncio.ensure_future(task(pair.b, gate))
        await asyncio.sleep(0.05)
        gate.set()
        outside = await where_async()          # the main task has no scope
        return await ta, await tb, outside

    ra, rb, outside = asyncio.run(asyncio.wait_for(main(), 30))
    assert ra == ["a"] * 3 and rb == ["b"] * 3 and outside == "host"


def test_asyncio_server_and_client_by_scope(pair) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(f"{writer.get_extra_info('peername')[0]} {line.decode()}".encode())
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        with pair.a.as_default():
            server = await asyncio.start_server(handle, A_IP, 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pair.b.as_default():
                reader, writer = await asyncio.open_connection(A_IP, port)
            writer.write(b"hello\n")
            reply = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            await writer.wait_closed()
        return reply

    assert asyncio.run(asyncio.wait_for(main(), 30)) == f"{B_IP} hello\n".encode()


def test_urllib_and_http_server_by_scope(pair) -> None:
    with pair.a.as_default():                      # the server's socket is made in a
        server = QuietHTTPServer((A_IP, 0), WhoHandler)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    t.start()
    # no proxies: a proxy from the environment would send the request elsewhere
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with pair.b.as_default():
            with opener.open(f"http://{A_IP}:{server.server_port}/page", timeout=10) as resp:
                got = json.loads(resp.read())
        assert got == {"client": B_IP, "path": "/page"}
    finally:
        server.shutdown()
        t.join(10)
        server.server_close()


def test_socketserver_by_process_default(pair) -> None:
    class Upper(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            self.wfile.write(line.upper())

    vdestack.default_stack(pair.a)
    try:
        server = socketserver.TCPServer((A_IP, 0), Upper)
    finally:
        vdestack.default_stack(None)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    t.start()
    try:
        with pair.b.as_default():
            c = socket.create_connection(server.server_address, timeout=10)
        with c:
            c.sendall(b"shout\n")
            assert c.makefile("rb").readline() == b"SHOUT\n"
    finally:
        server.shutdown()
        t.join(10)
        server.server_close()


def test_stacksocket_without_stack_uses_default(pair, probe) -> None:
    with pair.b.as_default():
        sock = vdestack.StackSocket()
    with sock:
        assert probe.where(sock) == "b"
    with vdestack.StackSocket() as host_sock:              # no default: the host
        assert probe.where(host_sock) == "host"


def test_hook_leaves_socket_class_alone(pair, probe) -> None:
    original_class = socket.socket
    with pair.a.as_default():
        s1, s2 = socket.socketpair()                       # fds given: not in the stack
        with s1, s2:
            s1.sendall(b"pair")
            assert s2.recv(4) == b"pair"
        fd = pair.b.msocket(socket.AF_INET, socket.SOCK_STREAM)
        with socket.socket(fileno=fd) as s3:               # an fd given: used as is
            assert probe.where(s3) == "b"
        with socket.fromfd(pair.a.msocket(socket.AF_INET, socket.SOCK_STREAM),
                           socket.AF_INET, socket.SOCK_STREAM) as s4:
            assert probe.where(s4) == "a"
    assert socket.socket is original_class
    with pair.a.as_default():
        with socket.socket() as s5:
            assert type(s5) is socket.socket
    with vdestack.StackSocket() as s6:
        assert isinstance(s6, socket.socket)
    with pytest.raises(TypeError):
        pickle.dumps(pair.a)
