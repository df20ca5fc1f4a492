"""Parity suite: the same socket test bodies, run on two implementations.

- ``host``: plain ``socket.socket`` over 127.0.0.1 on the host;
- ``stack``: ``vdestack.StackSocket`` in two stacks linked by ``ptp://``
  (server in 10.0.0.1, client in 10.0.0.2).

Each test asserts on what crossed the network: the bytes that came back
and the peer address the other side saw.
"""

from __future__ import annotations

import asyncio
import errno
import http.client
import http.server
import io
import json
import os
import selectors
import socket
import socketserver
import threading
import time
from typing import Any, List, Tuple

import pytest

import vdestack
from conftest import A_IP, B_IP, EchoServer, QuietHTTPServer, recv_exactly


class Net:
    """One implementation: where servers and clients make their sockets."""

    name: str
    sock_class: type
    server_ip: str
    client_ip: str

    def __init__(self) -> None:
        self._socks: List[socket.socket] = []

    def _new(self, side: str, type: int) -> socket.socket:
        raise NotImplementedError

    def server_socket(self, type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket (closed after the test) on the server side."""
        sock = self._new("server", type)
        self._socks.append(sock)
        return sock

    def client_socket(self, type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket (closed after the test) on the client side."""
        sock = self._new("client", type)
        self._socks.append(sock)
        return sock

    def listener(self, backlog: int = 16) -> socket.socket:
        """A listening TCP socket bound to the server address."""
        sock = self.server_socket()
        sock.bind((self.server_ip, 0))
        sock.listen(backlog)
        return sock

    def connect(self, addr: Tuple[str, int], timeout: float = 10.0) -> socket.socket:
        """A client TCP socket connected to addr."""
        sock = self.client_socket()
        sock.settimeout(timeout)
        sock.connect(addr)
        return sock

    def close(self) -> None:
        for sock in self._socks:
            sock.close()


class HostNet(Net):
    name = "host"
    sock_class = socket.socket
    server_ip = client_ip = "127.0.0.1"

    def _new(self, side: str, type: int) -> socket.socket:
        return socket.socket(socket.AF_INET, type)


class StackNet(Net):
    name = "stack"
    sock_class = vdestack.StackSocket
    server_ip, client_ip = A_IP, B_IP

    def __init__(self, pair: Any) -> None:
        super().__init__()
        self.pair = pair

    def _new(self, side: str, type: int) -> socket.socket:
        stack = self.pair.a if side == "server" else self.pair.b
        return stack.socket(socket.AF_INET, type)


@pytest.fixture(params=["host", "stack"])
def net(request: pytest.FixtureRequest) -> Any:
    """The implementation under test."""
    if request.param == "host":
        n: Net = HostNet()
    else:
        n = StackNet(request.getfixturevalue("pair"))
    yield n
    n.close()


@pytest.fixture
def echo(net: Net) -> Any:
    """An echo server on the server side of `net`."""
    server = EchoServer(net.listener())
    yield server
    server.close()


# -- TCP and UDP ----------------------------------------------------------------------

def test_tcp_echo(net: Net, echo: EchoServer) -> None:
    client = net.connect(echo.addr)
    assert client.getpeername() == echo.addr
    assert client.getsockname()[0] == net.client_ip
    payloads = [b"hello", os.urandom(1), os.urandom(1_000_000)]
    for payload in payloads:
        client.sendall(payload)
        assert recv_exactly(client, len(payload)) == payload
    client.shutdown(socket.SHUT_WR)
    assert client.recv(10) == b""
    assert echo.peers == [client.getsockname()]
    assert echo.peers[0][0] == net.client_ip
    assert echo.received[echo.peers[0]] == b"".join(payloads)


def test_tcp_many_clients(net: Net, echo: EchoServer) -> None:
    clients = [net.connect(echo.addr) for _ in range(5)]
    for i, c in enumerate(clients):
        c.sendall(f"client {i}".encode())
    for i, c in enumerate(clients):
        assert recv_exactly(c, len(f"client {i}")) == f"client {i}".encode()
    assert sorted(echo.peers) == sorted(c.getsockname() for c in clients)


def test_udp(net: Net) -> None:
    server = net.server_socket(socket.SOCK_DGRAM)
    server.bind((net.server_ip, 0))
    server.settimeout(10)
    client = net.client_socket(socket.SOCK_DGRAM)
    client.settimeout(10)
    client.bind((net.client_ip, 0))
    for size in (1, 100, 1400, 8000):
        data = os.urandom(size)
        client.sendto(data, server.getsockname())
        got, peer = server.recvfrom(65536)
        assert got == data and peer == client.getsockname()
        server.sendto(got[::-1], peer)
        back, frm = client.recvfrom(65536)
        assert back == data[::-1] and frm == server.getsockname()
    # connected UDP
    client.connect(server.getsockname())
    client.send(b"connected")
    assert server.recvfrom(100) == (b"connected", client.getsockname())


# -- the socket object ------------------------------------------------------------------

def test_accept_returns_own_class(net: Net) -> None:
    listener = net.listener()
    client = net.connect(listener.getsockname())
    conn, peer = listener.accept()
    with conn:
        assert type(conn) is net.sock_class
        assert isinstance(conn, socket.socket)
        assert conn.family == socket.AF_INET and conn.type == socket.SOCK_STREAM
        assert peer == client.getsockname() and peer[0] == net.client_ip
        assert conn.gettimeout() is None
        conn.sendall(b"from accept")
        assert recv_exactly(client, 11) == b"from accept"


def test_accept_timeout_rules(net: Net) -> None:
    """The stdlib rule: a listener with a timeout and no default timeout
    gives blocking sockets; a default timeout applies to accepted sockets."""
    listener = net.listener()
    listener.settimeout(5)
    c1 = net.connect(listener.getsockname())
    conn, _ = listener.accept()
    with conn:
        assert conn.gettimeout() is None and conn.getblocking()
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(3.5)
    try:
        c2 = net.connect(listener.getsockname())
        conn, _ = listener.accept()
        with conn:
            assert conn.gettimeout() == 3.5
            conn.sendall(b"x")
            assert c2.recv(1) == b"x"
    finally:
        socket.setdefaulttimeout(old)
    c1.close()


def test_dup(net: Net, echo: EchoServer) -> None:
    client = net.connect(echo.addr)
    dup = client.dup()
    try:
        assert type(dup) is net.sock_class
        assert dup.fileno() != client.fileno()
        client.close()
        dup.sendall(b"through the dup")
        assert recv_exactly(dup, 15) == b"through the dup"
        assert dup.getsockname()[0] == net.client_ip
    finally:
        dup.close()


def test_makefile(net: Net) -> None:
    listener = net.listener()
    client = net.connect(listener.getsockname())
    conn, _ = listener.accept()
    with conn:
        wfile = client.makefile("w", encoding="utf-8", newline="\n")
        rfile = conn.makefile("rb")
        wfile.write("first line\nsecond line ü\n")
        wfile.flush()
        assert rfile.readline() == b"first line\n"
        assert rfile.readline() == "second line ü\n".encode()
        rw = conn.makefile("rwb", buffering=0)
        rw.write(b"reply\n")
        assert client.makefile("rb").readline() == b"reply\n"
        for f in (wfile, rfile, rw):
            f.close()
        assert isinstance(rfile, io.BufferedReader)


def test_recv_into_and_sendmsg(net: Net, echo: EchoServer) -> None:
    client = net.connect(echo.addr)
    client.sendmsg([b"scatter ", b"gather"])
    buf = bytearray(14)
    view = memoryview(buf)
    got = 0
    while got < 14:
        got += client.recv_into(view[got:])
    assert bytes(buf) == b"scatter gather"


# -- timeouts and blocking ----------------------------------------------------------

def test_recv_timeout(net: Net) -> None:
    listener = net.listener()
    client = net.connect(listener.getsockname())
    conn, _ = listener.accept()
    with conn:
        client.settimeout(0.3)
        assert client.gettimeout() == 0.3
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            client.recv(10)
        assert 0.25 < time.monotonic() - start < 3
        conn.sendall(b"late")
        assert client.recv(10) == b"late"


def test_accept_timeout(net: Net) -> None:
    listener = net.listener()
    listener.settimeout(0.2)
    with pytest.raises(socket.timeout):
        listener.accept()


def test_connect_refused(net: Net) -> None:
    probe = net.server_socket()
    probe.bind((net.server_ip, 0))
    closed_addr = probe.getsockname()              # bound, not listening
    client = net.client_socket()
    client.settimeout(10)
    with pytest.raises(ConnectionRefusedError):
        client.connect(closed_addr)
    other = net.client_socket()
    assert other.connect_ex(closed_addr) == errno.ECONNREFUSED


def test_nonblocking(net: Net) -> None:
    listener = net.listener()
    client = net.client_socket()
    client.setblocking(False)
    assert client.gettimeout() == 0.0 and not client.getblocking()
    err = client.connect_ex(listener.getsockname())
    assert err in (0, errno.EINPROGRESS)
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_WRITE)
    assert sel.select(10)
    sel.close()
    assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    conn, _ = listener.accept()
    with conn:
        with pytest.raises(BlockingIOError):
            client.recv(10)
        conn.sendall(b"now")
        client.setblocking(True)
        assert client.gettimeout() is None
        assert client.recv(10) == b"now"


def test_sock_nonblock_type_flag(net: Net) -> None:
    sock = net.server_socket(socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    assert sock.type == socket.SOCK_STREAM
    assert sock.gettimeout() == 0.0
    sock.bind((net.server_ip, 0))
    sock.listen(1)
    with pytest.raises(BlockingIOError):
        sock.accept()
    client = net.connect(sock.getsockname())
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    assert sel.select(10)
    sel.close()
    conn, peer = sock.accept()
    with conn:
        assert peer == client.getsockname()
        assert conn.gettimeout() is None                 # accept(): blocking


# -- selectors, socketserver, http ------------------------------------------------------

def test_selectors_echo(net: Net) -> None:
    listener = net.listener()
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "listener")
    seen: List[Any] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for key, _ in sel.select(0.1):
                if key.data == "listener":
                    conn, peer = listener.accept()
                    assert type(conn) is net.sock_class
                    seen.append(peer)
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
                else:
                    data = key.fileobj.recv(4096)
                    if data:
                        key.fileobj.sendall(data.upper())
                    else:
                        sel.unregister(key.fileobj)
                        key.fileobj.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        clients = [net.connect(listener.getsockname()) for _ in range(3)]
        for i, c in enumerate(clients):
            c.sendall(f"msg {i}".encode())
        for i, c in enumerate(clients):
            assert recv_exactly(c, 5) == f"MSG {i}".encode()
            c.close()
    finally:
        stop.set()
        t.join(10)
        for key in list(sel.get_map().values()):
            if key.data == "conn":
                key.fileobj.close()
        sel.close()
    assert sorted(p[0] for p in seen) == [net.client_ip] * 3


def _with_socket(server: socketserver.TCPServer, sock: socket.socket) -> None:
    """Give a server made with bind_and_activate=False our socket."""
    server.socket.close()
    server.socket = sock
    server.server_bind()
    server.server_activate()


def test_socketserver(net: Net) -> None:
    handled: List[Any] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            handled.append(type(self.request))
            line = self.rfile.readline()
            self.wfile.write(f"{self.client_address[0]} {line.decode()}".encode())

    server = socketserver.ThreadingTCPServer((net.server_ip, 0), Handler,
                                             bind_and_activate=False)
    server.daemon_threads = True
    _with_socket(server, net.server_socket())
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    t.start()
    try:
        for i in range(3):
            c = net.connect(server.server_address)
            c.sendall(f"request {i}\n".encode())
            reply = c.makefile("rb").readline()
            assert reply == f"{net.client_ip} request {i}\n".encode()
            c.close()
    finally:
        server.shutdown()
        t.join(10)
        server.server_close()
    assert handled == [net.sock_class] * 3


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers with JSON: who asked, what, and the request body."""

    server_version = "vdestack-test/1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: bytes = b"") -> None:
        payload = json.dumps({"client": self.client_address[0], "path": self.path,
                              "method": self.command, "body": body.decode(),
                              "sock": type(self.connection).__name__}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))


def test_http_server_and_client(net: Net) -> None:
    server = QuietHTTPServer((net.server_ip, 0), EchoHandler, bind_and_activate=False)
    _with_socket(server, net.server_socket())
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    t.start()

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = net.connect((self.host, self.port), timeout=10)

    try:
        conn = Connection(net.server_ip, server.server_address[1], timeout=10)
        conn.request("GET", "/hello?x=1")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Server").startswith("vdestack-test/1")
        got = json.loads(resp.read())
        assert got == {"client": net.client_ip, "path": "/hello?x=1", "method": "GET",
                       "body": "", "sock": net.sock_class.__name__}
        body = "x" * 100_000
        conn.request("POST", "/post", body=body.encode())        # keep-alive, same socket
        got = json.loads(conn.getresponse().read())
        assert got["body"] == body and got["client"] == net.client_ip
        conn.close()
    finally:
        server.shutdown()
        t.join(10)
        server.server_close()


# -- asyncio ------------------------------------------------------------------------

def test_asyncio_streams(net: Net) -> None:
    listener = net.listener()
    peers: List[Any] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername"))
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(b"echo: " + line)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> List[bytes]:
        server = await asyncio.start_server(handle, sock=listener)
        async with server:
            client = net.connect(listener.getsockname())
            reader, writer = await asyncio.open_connection(sock=client)
            replies = []
            for i in range(3):
                writer.write(f"line {i}\n".encode())
                await writer.drain()
                replies.append(await asyncio.wait_for(reader.readline(), 10))
            assert writer.get_extra_info("sockname")[0] == net.client_ip
            writer.close()
            await writer.wait_closed()
            await asyncio.sleep(0.05)
        return replies

    replies = asyncio.run(asyncio.wait_for(main(), 30))
    assert replies == [f"echo: line {i}\n".encode() for i in range(3)]
    assert len(peers) == 1 and peers[0][0] == net.client_ip


def test_asyncio_sock_calls(net: Net) -> None:
    listener = net.listener()
    listener.setblocking(False)
    client = net.client_socket()
    client.setblocking(False)

    async def main() -> Tuple[Any, Any, bytes, bytes]:
        loop = asyncio.get_running_loop()
        accept = asyncio.ensure_future(loop.sock_accept(listener))
        await loop.sock_connect(client, listener.getsockname())
        conn, peer = await asyncio.wait_for(accept, 10)
        with conn:
            await loop.sock_sendall(client, b"x" * 200_000)
            got = b""
            while len(got) < 200_000:
                got += await asyncio.wait_for(loop.sock_recv(conn, 65536), 10)
            await loop.sock_sendall(conn, b"back")
            buf = bytearray(4)
            n = await asyncio.wait_for(loop.sock_recv_into(client, buf), 10)
            return type(conn), peer, got, bytes(buf[:n])

    conn_type, peer, got, back = asyncio.run(asyncio.wait_for(main(), 30))
    assert conn_type is net.sock_class
    assert peer == client.getsockname() and peer[0] == net.client_ip
    assert got == b"x" * 200_000 and back == b"back"


def test_asyncio_datagram(net: Net) -> None:
    server = net.server_socket(socket.SOCK_DGRAM)
    server.bind((net.server_ip, 0))
    client = net.client_socket(socket.SOCK_DGRAM)
    client.bind((net.client_ip, 0))

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.transport.sendto(data + f" from {addr[0]}".encode(), addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Future = asyncio.get_running_loop().create_future()

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.got.set_result((data, addr))

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        st, _ = await loop.create_datagram_endpoint(Echo, sock=server)
        ct, cp = await loop.create_datagram_endpoint(Client, sock=client)
        try:
            ct.sendto(b"dgram", server.getsockname())
            return await asyncio.wait_for(cp.got, 10)
        finally:
            ct.close()
            st.close()

    (data, addr) = asyncio.run(main())
    assert data == f"dgram from {net.client_ip}".encode()
    assert addr[0] == net.server_ip
