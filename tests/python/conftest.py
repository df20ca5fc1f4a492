"""Fixtures and helpers of the vdestack Python suite.

Every stack a test uses is made by a fixture that closes it afterwards
(``make_stack``, from the package's own pytest plugin).
Two stacks linked by ``ptp://`` under ``tmp_path`` stand for two hosts on
a private network (10.0.0.1/24 and 10.0.0.2/24); nothing leaves the
machine and no name is ever resolved.

Timeouts: every test gets one (DEFAULT_TIMEOUT unless it has its own).
Forked tests are timed inside the forked child (``func_only``) with the
``thread`` method, so a child hung even inside a C call ends itself instead
of being left behind by a timer that fired in the parent.
"""

from __future__ import annotations

import http.server
import json
import os
import pickle
import select
import signal
import socket
import socketserver
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set

import pytest

import vdestack

pytest_plugins = ("pytester",)

DEFAULT_TIMEOUT = 60
BUSYBOX = "/bin/busybox"
A_IP, B_IP = "10.0.0.1", "10.0.0.2"


PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config: pytest.Config) -> None:
    """Make this process a child subreaper: whatever the suite starts, even
    through processes that exit, stays below it, so that processes left
    behind are found at the end (pytest_sessionfinish) instead of being
    adopted by init unseen."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    config._vds_subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the suite left processes behind (and kill them)."""
    if not getattr(session.config, "_vds_subreaper", False):
        return
    deadline = time.monotonic() + 5
    while True:
        # reap as a subreaper must: an orphaned stack init's zombie keeps
        # the PID namespace above it (and that namespace's init) waiting
        for pid in child_pids():
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        left = {pid for pid in child_pids() if pid_alive(pid)}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in child_pids():                     # reap zombies adopted from orphans
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if left:
        lines = []
        for pid in sorted(left):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                lines.append(f"  {pid}: {cmdline}")
            except OSError:
                lines.append(f"  {pid}: ?")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line("processes left behind by the tests (killed):\n" + "\n".join(lines),
                                red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Give every test a timeout; time forked tests inside the child."""
    for item in items:
        own = item.get_closest_marker("timeout")
        seconds = DEFAULT_TIMEOUT
        if own is not None:
            seconds = own.args[0] if own.args else own.kwargs.get("timeout", DEFAULT_TIMEOUT)
        if item.get_closest_marker("forked") is not None:
            item.add_marker(pytest.mark.timeout(seconds, method="thread", func_only=True),
                            append=False)
        elif own is None:
            item.add_marker(pytest.mark.timeout(seconds), append=False)


# -- processes and file descriptors -------------------------------------------

def child_pids(pid: Optional[int] = None) -> Set[int]:
    """Pids of the live (or zombie) children of pid (default: this process)."""
    pid = os.getpid() if pid is None else pid
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            found.add(int(name))
    return found


def open_fds() -> List[int]:
    """The file descriptors open in this process, sorted."""
    return sorted(int(fd) for fd in os.listdir("/proc/self/fd"))


def processes_running(argv: List[str]) -> Set[int]:
    """Pids of processes whose command line is exactly argv (any owner)."""
    want = "\0".join(argv).encode() + b"\0"
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if f.read() == want:
                    found.add(int(name))
        except OSError:
            continue
    return found


def pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def in_child(fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run fn() in a forked child and return its result (pickled back).

    An exception in the child is re-raised here as ChildError carrying its
    type name, errno and message.  A child that does not finish in time is
    killed (by pid) and the test fails.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # child
        status = 0
        try:
            os.close(rfd)
            try:
                result: Any = ("ok", fn())
            except BaseException as exc:           # noqa: B902 - report all
                result = ("err", type(exc).__name__, getattr(exc, "errno", None), str(exc))
            data = pickle.dumps(result)
            while data:
                data = data[os.write(wfd, data):]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(wfd)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([rfd], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"forked child {pid} did not finish in {timeout} s")
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"child exit status {status:#x}"
    result = pickle.loads(b"".join(chunks))
    if result[0] == "err":
        raise ChildError(*result[1:])
    return result[1]


class ChildError(Exception):
    """An exception raised in a child run by in_child()."""

    def __init__(self, typename: str, errno: Optional[int], message: str) -> None:
        super().__init__(f"{typename}: {message}")
        self.typename = typename
        self.errno = errno
        self.message = message


# -- stacks ---------------------------------------------------------------------

# make_stack (and vde_switch) come from the package's pytest plugin,
# vdestack.pytest_plugin, loaded through its pytest11 entry point: the suite
# runs against the installed package and so tests the plugin as users get it.

def configure(stack: vdestack.Stack, ip: str, ifname: str = "vde0") -> None:
    """Give the stack's interface ip/24 and bring it up."""
    status = stack.cmd(f"{BUSYBOX} ip addr add {ip}/24 dev {ifname}; "
                       f"{BUSYBOX} ip link set {ifname} up")
    assert status == 0, f"configuring {ip} on {ifname}: exit status {status}"


class Pair:
    """Two stacks linked by ptp://: a (10.0.0.1) and b (10.0.0.2)."""

    def __init__(self, a: vdestack.Stack, b: vdestack.Stack, vnl: str) -> None:
        self.a, self.b, self.vnl = a, b, vnl
        self.a_ip, self.b_ip = A_IP, B_IP


@pytest.fixture
def link_vnl(tmp_path: Any) -> str:
    """A ptp:// VNL under tmp_path."""
    return f"ptp://{tmp_path}/link"


@pytest.fixture
def pair(make_stack: Any, link_vnl: str) -> Pair:
    """Two configured stacks on one ptp:// link."""
    a = make_stack(link_vnl, ip=f"{A_IP}/24")
    b = make_stack(link_vnl, ip=f"{B_IP}/24")
    return Pair(a, b, link_vnl)


@pytest.fixture
def closing() -> Any:
    """closing(obj) -> obj; obj.close() is called after the test."""
    objs: List[Any] = []

    def register(obj: Any) -> Any:
        objs.append(obj)
        return obj

    yield register
    for obj in reversed(objs):
        try:
            obj.close()
        except Exception:
            pass


# -- servers ----------------------------------------------------------------------

class QuietHTTPServer(http.server.ThreadingHTTPServer):
    """HTTPServer without the reverse DNS lookup of its server_bind()."""

    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class WhoHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET with JSON: the client's address as the server saw it, the path."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"client": self.client_address[0], "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class EchoServer:
    """A thread that accepts on a listening socket and echoes every
    connection; records what each peer sent and its address."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.addr = listener.getsockname()
        self.peers: List[Any] = []
        self.received: Dict[Any, bytes] = {}
        self.conn_types: List[type] = []
        self._stop = False
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._conns: List[socket.socket] = []
        listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, peer = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.peers.append(peer)
                self.conn_types.append(type(conn))
                self.received[peer] = b""
                self._conns.append(conn)
            t = threading.Thread(target=self._echo, args=(conn, peer), daemon=True)
            t.start()
            self._threads.append(t)

    def _echo(self, conn: socket.socket, peer: Any) -> None:
        with conn:
            conn.settimeout(20)
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    with self._lock:
                        self.received[peer] += data
                    conn.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self._threads:
            t.join(5)
        self.listener.close()


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes (fails on EOF)."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, f"EOF after {len(buf)} of {n} bytes"
        buf += chunk
    return buf


class Probe:
    """Tells which network stack a socket lives in.

    Listeners on 127.0.0.1:PORT on the host and in each stack of a pair
    (every namespace has its own loopback), each answering with its name:
    a socket that connects to 127.0.0.1:PORT reaches the listener of its
    own stack.
    """

    def __init__(self, pair: Pair) -> None:
        host = socket.socket()      # made before any default is set
        host.bind(("127.0.0.1", 0))
        self.port = host.getsockname()[1]
        self.listeners = {"host": host}
        for name, stack in (("a", pair.a), ("b", pair.b)):
            sock = stack.socket()
            sock.bind(("127.0.0.1", self.port))
            self.listeners[name] = sock
        self._stop = False
        self._threads = []
        for name, sock in self.listeners.items():
            sock.listen(16)
            sock.settimeout(0.2)
            t = threading.Thread(target=self._answer, args=(name, sock), daemon=True)
            t.start()
            self._threads.append(t)

    def _answer(self, name: str, sock: socket.socket) -> None:
        while not self._stop:
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(name.encode())

    def where(self, sock: socket.socket) -> str:
        """Connect sock to the probe port; the name of the stack it reached."""
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.port))
        data = b""
        while True:
            chunk = sock.recv(16)
            if not chunk:
                return data.decode()
            data += chunk

    def new_socket_lives_in(self) -> str:
        """Where a plain socket.socket() made now lives."""
        with socket.socket() as sock:
            return self.where(sock)

    def close(self) -> None:
        self._stop = True
        for t in self._threads:
            t.join(5)
        for sock in self.listeners.values():
            sock.close()


@pytest.fixture
def probe(pair: Pair) -> Any:
    """A Probe on the host and both stacks of `pair`."""
    p = Probe(pair)
    yield p
    p.close()
