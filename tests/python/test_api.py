"""The Stack API: construction, errors, commands, sockets, counters."""

from __future__ import annotations

import errno
import importlib.metadata
import os
import socket
import threading
import time

import pytest

import vdestack
from conftest import A_IP, B_IP, BUSYBOX, EchoServer, recv_exactly


# -- package --------------------------------------------------------------------

def test_version() -> None:
    assert vdestack.__version__ == "1.0.0"
    assert vdestack.core_version() == vdestack.__version__
    try:
        assert importlib.metadata.version("vdestack") == vdestack.__version__
    except importlib.metadata.PackageNotFoundError:
        pass                                      # built in place, not installed


def test_public_names() -> None:
    for name in vdestack.__all__:
        obj = getattr(vdestack, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"
    assert issubclass(vdestack.StackSocket, socket.socket)
    assert vdestack.STATUS_NOEXEC == 127 and vdestack.STATUS_SIGNAL == 128


# -- construction and errors --------------------------------------------------------

def test_loopback_only_stack(make_stack) -> None:
    s = make_stack()
    assert s.vnl is None and s.ifname is None and not s.closed
    assert s.cmd(f"{BUSYBOX} ip link show lo") == 0
    assert s.cmd(f"{BUSYBOX} ip link show vde0") != 0       # no interface
    # lo is up: a connection over the stack's loopback carries bytes
    srv = s.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    server = EchoServer(srv)
    try:
        with s.socket() as c:
            c.settimeout(10)
            c.connect(server.addr)
            c.sendall(b"ping over lo")
            assert recv_exactly(c, 12) == b"ping over lo"
    finally:
        server.close()


def test_empty_vnl_is_loopback_only(make_stack) -> None:
    s = make_stack("")
    assert s.vnl == ""
    assert s.cmd(f"{BUSYBOX} ip link show vde0") != 0


def test_properties_and_repr(make_stack, link_vnl) -> None:
    s = make_stack(link_vnl)
    assert s.vnl == link_vnl and s.ifname == "vde0"
    assert link_vnl in repr(s) and "open" in repr(s)
    with pytest.raises(AttributeError):
        s.vnl = "x"                                           # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.ifname = "x"                                        # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.closed = True                                       # type: ignore[misc]
    s.close()
    assert "closed" in repr(s)


def test_custom_ifname(make_stack, link_vnl) -> None:
    s = make_stack(link_vnl, "eth7")
    assert s.ifname == "eth7"
    assert s.cmd(f"{BUSYBOX} ip link show eth7") == 0
    assert s.cmd(f"{BUSYBOX} ip link show vde0") != 0


def test_bad_vnl_raises_oserror_naming_it(tmp_path) -> None:
    vnl = f"vde://{tmp_path}/no/such/switch"
    with pytest.raises(OSError) as info:
        vdestack.Stack(vnl)
    assert info.value.errno and info.value.errno > 0
    assert vnl in str(info.value)
    assert os.strerror(info.value.errno) in str(info.value)


def test_bad_vnl_module_raises_oserror() -> None:
    with pytest.raises(OSError) as info:
        vdestack.Stack("nosuchplugin:///x")
    assert info.value.errno and "nosuchplugin:///x" in str(info.value)


# Interface names: a name the kernel cannot take raises ValueError before any
# stack is made (the C call would fail with EINVAL; Python says "bad value").
@pytest.mark.parametrize("ifname", ["a" * 16, "averyveryverylongname", "", "a/b", "a b", "..", "x:1",
                                    ".", "a\tb", "a\vb", b"a\xa0b"])
def test_bad_ifname_raises_valueerror(link_vnl, ifname) -> None:
    with pytest.raises(ValueError, match="interface name"):
        vdestack.Stack(link_vnl, ifname)


def test_ifname_of_15_bytes_works(make_stack, link_vnl) -> None:
    name = "i" * 15
    s = make_stack(link_vnl, name)
    assert s.cmd(f"{BUSYBOX} ip link show {name}") == 0


# (a list of VNLs is valid: one interface per VNL, test_interfaces.py)
@pytest.mark.parametrize("args", [(123,), ({"vde://"},), (None, 5), (None, ["vde0"])])
def test_wrong_types_in_constructor(args) -> None:
    with pytest.raises(TypeError):
        vdestack.Stack(*args)


def test_nul_in_vnl_is_valueerror() -> None:
    with pytest.raises(ValueError):
        vdestack.Stack("ptp:///tmp/x\0y")


# -- commands ---------------------------------------------------------------------------

@pytest.mark.parametrize("command, status", [
    ("/bin/true", 0),
    ("/bin/false", 1),
    (f"{BUSYBOX} sh -c 'exit 7'", 7),
    (f'{BUSYBOX} sh -c "exit 9"', 9),
    (f"{BUSYBOX} sh -c exit\\ 11", 11),
    ("/nonexistent/program", 127),
    (f"{BUSYBOX} sh -c 'kill -9 $$'", 128 + 9),
    (f"/bin/true; /bin/true; {BUSYBOX} sh -c 'exit 3'", 3),
])
def test_cmd_exit_status(make_stack, command, status) -> None:
    assert make_stack().cmd(command) == status


def test_cmd_stops_at_first_failure(make_stack, tmp_path) -> None:
    s = make_stack()
    first, second = tmp_path / "first", tmp_path / "second"
    assert s.cmd(f"{BUSYBOX} touch {first}; /bin/false; {BUSYBOX} touch {second}") == 1
    assert first.exists() and not second.exists()


@pytest.mark.parametrize("command", ["busybox true", "./x", "", "   "])
def test_cmd_relative_or_empty_is_einval(make_stack, command) -> None:
    with pytest.raises(OSError) as info:
        make_stack().cmd(command)
    assert info.value.errno == errno.EINVAL
    assert "cannot run command" in str(info.value)


def test_cmd_with_relative_path_runs_nothing(make_stack, tmp_path) -> None:
    s = make_stack()
    marker = tmp_path / "ran"
    with pytest.raises(OSError) as info:
        s.cmd(f"{BUSYBOX} touch {marker}; busybox true")
    assert info.value.errno == errno.EINVAL
    assert not marker.exists()


def test_cmd_runs_in_the_stack(make_stack, link_vnl) -> None:
    s = make_stack(link_vnl, ip=f"{A_IP}/24")
    with s.socket() as sock:
        sock.bind((A_IP, 0))                      # the address exists in the stack only
        assert sock.getsockname()[0] == A_IP


def test_cmd_capabilities(make_stack, tmp_path) -> None:
    """Commands get exactly CAP_NET_{BIND_SERVICE,BROADCAST,ADMIN,RAW}."""
    out = tmp_path / "status"
    s = make_stack()
    assert s.cmd(f"{BUSYBOX} cp /proc/self/status {out}") == 0
    caps = dict(line.split(":\t") for line in out.read_text().splitlines() if line.startswith("Cap"))
    want = (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13)
    assert int(caps["CapEff"], 16) == want
    assert int(caps["CapAmb"], 16) == want


def test_cmdv(make_stack, tmp_path) -> None:
    s = make_stack()
    assert s.cmdv([BUSYBOX, "sh", "-c", "exit 4"]) == 4
    assert s.cmdv((BUSYBOX, "true")) == 0
    odd = tmp_path / "a b;c 'd'"
    assert s.cmdv([BUSYBOX, "touch", str(odd)]) == 0    # no parsing at all
    assert odd.exists()
    assert s.cmdv([os.fsencode(BUSYBOX), b"true"]) == 0
    assert s.cmdv(["/nonexistent/program"]) == 127


def test_cmdv_errors(make_stack) -> None:
    s = make_stack()
    with pytest.raises(TypeError):
        s.cmdv(f"{BUSYBOX} true")                        # a string is not a list
    with pytest.raises(TypeError):
        s.cmdv([BUSYBOX, 1])
    with pytest.raises(TypeError):
        s.cmdv(None)
    with pytest.raises(ValueError):
        s.cmdv([])
    with pytest.raises(ValueError):
        s.cmdv([BUSYBOX, "a\0b"])
    with pytest.raises(OSError) as info:
        s.cmdv(["busybox", "true"])
    assert info.value.errno == errno.EINVAL


def test_cmd_wrong_types(make_stack) -> None:
    s = make_stack()
    for bad in (None, 5, [BUSYBOX]):
        with pytest.raises(TypeError):
            s.cmd(bad)
    with pytest.raises(ValueError):
        s.cmd("/bin/true\0")


def test_cmd_releases_the_gil(make_stack) -> None:
    s = make_stack()
    ticks = []
    done = threading.Event()

    def run() -> None:
        assert s.cmd(f"{BUSYBOX} sleep 1") == 0
        done.set()

    t = threading.Thread(target=run)
    t.start()
    while not done.is_set():
        ticks.append(time.monotonic())
        time.sleep(0.01)
    t.join()
    assert len(ticks) > 20                  # the main thread ran meanwhile


def test_concurrent_cmds_in_threads(make_stack) -> None:
    s = make_stack()
    results = {}

    def run(i: int) -> None:
        results[i] = s.cmd(f"{BUSYBOX} sh -c 'sleep 0.3; exit {i}'")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i for i in range(6)}
    assert time.monotonic() - start < 1.7    # they ran in parallel


# -- sockets ---------------------------------------------------------------------------------

def test_msocket_returns_fd_in_the_stack(make_stack, link_vnl) -> None:
    s = make_stack(link_vnl, ip=f"{A_IP}/24")
    fd = s.msocket(socket.AF_INET, socket.SOCK_DGRAM)
    assert isinstance(fd, int) and fd >= 0
    sock = socket.socket(fileno=fd)
    with sock:
        assert sock.family == socket.AF_INET and sock.type == socket.SOCK_DGRAM
        sock.bind((A_IP, 0))


def test_msocket_errors(make_stack) -> None:
    s = make_stack()
    with pytest.raises(OSError) as info:
        s.msocket(9999, socket.SOCK_STREAM)
    assert info.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(TypeError):
        s.msocket("inet", socket.SOCK_STREAM)               # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.msocket(socket.AF_INET, 1.5)                      # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.socket(family=None)                               # type: ignore[arg-type]


def test_socket_is_stacksocket(make_stack) -> None:
    s = make_stack()
    with s.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        assert type(sock) is vdestack.StackSocket
        assert sock.family == socket.AF_INET6 and sock.type == socket.SOCK_DGRAM
        assert not sock.get_inheritable()                   # close-on-exec, PEP 446
    with s.socket() as sock:
        assert sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM


def test_socket_is_built_like_the_constructor_builds_it(make_stack) -> None:
    """Stack.socket() skips the Python-level __init__s: the object must be
    what StackSocket(..., fileno=fd) makes (same slot values, works with
    makefile() and dup(), which use _io_refs/_closed)."""
    s = make_stack()
    fast = s.socket(socket.AF_INET, socket.SOCK_DGRAM)
    slow = vdestack.StackSocket(socket.AF_INET, socket.SOCK_DGRAM, 0,
                                fileno=s.msocket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        for attr in socket.socket.__slots__:
            if attr != "__weakref__":
                assert getattr(fast, attr) == getattr(slow, attr), attr
        for sock in (fast, slow):          # no __dict__, as socket.socket
            with pytest.raises(AttributeError):
                sock.anything = 1       # type: ignore[attr-defined]
        for sock in (fast, slow):
            sock.bind(("127.0.0.1", 0))
        fast.connect(slow.getsockname())
        slow.connect(fast.getsockname())
        with fast.dup() as twin:
            assert type(twin) is vdestack.StackSocket
            twin.send(b"via dup")
        assert slow.recv(16) == b"via dup"
        f = fast.makefile("rb")
        fast.close()                    # the file still holds it (_io_refs)
        slow.send(b"via makefile")
        assert f.raw.read(64) == b"via makefile"
        f.close()
        assert fast.fileno() == -1 and fast._closed
    finally:
        fast.close()
        slow.close()


def test_sockets_outlive_the_stack(make_stack) -> None:
    """Sockets keep the stack's namespace alive: its loopback still works."""
    s = make_stack()
    srv = s.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    client = s.socket()
    s.close()
    server = EchoServer(srv)
    try:
        client.settimeout(10)
        client.connect(server.addr)
        client.sendall(b"after close")
        assert recv_exactly(client, 11) == b"after close"
        assert server.received == {client.getsockname(): b"after close"}
    finally:
        client.close()
        server.close()


# -- closed stack ------------------------------------------------------------------------------

def test_closed_stack(make_stack) -> None:
    s = make_stack()
    s.close()
    s.close()                                               # idempotent
    assert s.closed
    for call in (lambda: s.cmd("/bin/true"), lambda: s.cmdv(["/bin/true"]),
                 lambda: s.msocket(socket.AF_INET, socket.SOCK_STREAM),
                 lambda: s.socket(), s.stats, s.as_default,
                 lambda: vdestack.default_stack(s), lambda: s.__enter__()):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_context_manager(link_vnl) -> None:
    with vdestack.Stack(link_vnl) as s:
        assert not s.closed
        assert s.cmd("/bin/true") == 0
    assert s.closed
    with vdestack.Stack(link_vnl) as s2:                    # the same VNL opens again
        assert s2.cmd("/bin/true") == 0
    with pytest.raises(ValueError):
        with s:
            pass


def test_close_while_a_thread_runs_a_command(make_stack) -> None:
    s = make_stack()
    result = {}

    def run() -> None:
        result["status"] = s.cmd(f"{BUSYBOX} sh -c 'sleep 0.5; exit 5'")

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.2)
    s.close()
    assert s.closed
    with pytest.raises(ValueError):
        s.cmd("/bin/true")
    t.join()
    assert result == {"status": 5}


# -- counters --------------------------------------------------------------------------------

def test_stats_count_frames(pair) -> None:
    before = pair.a.stats()
    assert set(before) == {"tx_frames", "tx_bytes", "rx_frames", "rx_bytes", "tx_dropped",
                           "rx_dropped", "rx_runt", "rx_oversize", "hung_up", "peer_lost",
                           "rx_empty"}
    assert before["hung_up"] == 0
    srv = pair.a.socket()
    srv.bind((A_IP, 0))
    srv.listen(1)
    server = EchoServer(srv)
    try:
        with pair.b.socket() as c:
            c.settimeout(10)
            c.connect(server.addr)
            payload = os.urandom(100_000)
            c.sendall(payload)
            assert recv_exactly(c, len(payload)) == payload
    finally:
        server.close()
    after_a, after_b = pair.a.stats(), pair.b.stats()
    assert after_a["rx_bytes"] - before["rx_bytes"] >= len(payload)
    assert after_a["tx_bytes"] - before["tx_bytes"] >= len(payload)
    assert after_b["rx_frames"] > 0 and after_b["tx_frames"] > 0
    assert after_b["hung_up"] == 0
    assert server.peers[0][0] == B_IP
