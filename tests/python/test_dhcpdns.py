"""DHCP leases and name resolution of a stack, against real servers.

Busybox ``udhcpd`` and ``dnsmasq`` run as commands of a second stack on the
same link (a thread waits for the command; the test ends it by pid).  Every
name used here exists only at that dnsmasq (``*.vdstest.internal``): a
lookup that reached the host's resolver could not find it, and dnsmasq's
log shows each query arriving from the client stack's address.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import signal
import socket
import threading
import time
import urllib.request
from typing import Any, List, Optional

import pytest

import vdestack
from conftest import BUSYBOX, child_pids
from conftest import QuietHTTPServer, WhoHandler

DNSMASQ = "/usr/sbin/dnsmasq"
SERVER_IP, CLIENT_IP = "10.0.0.1", "10.0.0.2"


def descendants(pid: int) -> List[int]:
    """Descendants of pid, breadth first (a daemon before its children)."""
    out: List[int] = []
    todo = [pid]
    while todo:
        kids = sorted(child_pids(todo.pop(0)))
        out += kids
        todo += kids
    return out


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class Daemon:
    """A server run as a command of a stack, from a thread, ended by pid."""

    def __init__(self, stack: vdestack.Stack, argv: List[str], name: str) -> None:
        before = {p for p in descendants(os.getpid()) if comm(p) == name}
        self.status: Optional[int] = None
        self.thread = threading.Thread(target=self._run, args=(stack, argv))
        self.thread.start()
        self.pid = 0
        deadline = time.monotonic() + 5
        while not self.pid and time.monotonic() < deadline and self.status is None:
            found = [p for p in descendants(os.getpid())
                     if comm(p) == name and p not in before]
            if found:
                self.pid = found[0]
            else:
                time.sleep(0.02)
        if not self.pid:
            self.thread.join(5)
            raise AssertionError(f"{argv[0]} did not start (status {self.status})")

    def _run(self, stack: vdestack.Stack, argv: List[str]) -> None:
        self.status = stack.cmdv(argv)

    def stop(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.thread.join(5)
        if self.thread.is_alive():
            os.kill(self.pid, signal.SIGKILL)
            self.thread.join(5)


@pytest.fixture
def link(make_stack: Any, link_vnl: str) -> Any:
    """(server, client): the server stack has 10.0.0.1/24, the client nothing."""
    server = make_stack(link_vnl)
    client = make_stack(link_vnl)
    server.config(f"ip={SERVER_IP}/24")
    return server, client


@pytest.fixture
def dnsmasq(link: Any, tmp_path: Any) -> Any:
    """dnsmasq in the server stack: web.vdstest.internal is 10.0.0.1; other
    names under vdestack.internal do not exist.  Yields its log path."""
    server, _ = link
    log = tmp_path / "dnsmasq.log"
    d = Daemon(server, [DNSMASQ, "-d", "-C", "/dev/null", "--no-resolv", "--no-hosts",
                        "--bind-interfaces", f"--listen-address={SERVER_IP}",
                        "--pid-file=", "--log-queries", f"--log-facility={log}",
                        "--local=/vdstest.internal/",
                        "--address=/web.vdstest.internal/10.0.0.1"], "dnsmasq")
    try:
        yield log
    finally:
        d.stop()


def queries(log: Any, name: str) -> int:
    """How many queries for name dnsmasq logged from the client stack."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return 0
    return sum(1 for line in text.splitlines()
               if f"] {name} from {CLIENT_IP}" in line and "query[" in line)


def wait_resolves(stack: vdestack.Stack, name: str) -> Any:
    """Stack.getaddrinfo(name), retried until dnsmasq listens."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return stack.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- numeric hosts, localhost, no server ------------------------------------------

@pytest.mark.parametrize("args", [
    ("127.0.0.1", 80), ("10.1.2.3", "http"), ("::1", 443, socket.AF_INET6),
    ("192.0.2.7", 53, 0, socket.SOCK_DGRAM), (None, 8080, socket.AF_INET, 0, 0, socket.AI_PASSIVE),
    ("fe80::1%1", 22), (b"10.0.0.9", b"25"),
])
def test_numeric_like_socket_getaddrinfo(make_stack: Any, args: Any) -> None:
    """Numeric hosts need no server and give socket.getaddrinfo's answer."""
    s = make_stack()
    assert s.getaddrinfo(*args) == socket.getaddrinfo(*args)


def test_localhost_is_the_stacks_loopback(make_stack: Any) -> None:
    s = make_stack()
    got = s.getaddrinfo("localhost", 7, type=socket.SOCK_STREAM)
    assert [a[4][0] for a in got] == ["::1", "127.0.0.1"]
    assert got[0][0] is socket.AF_INET6 and got[0][1] is socket.SOCK_STREAM


def test_no_dns_server_is_eai_again(make_stack: Any) -> None:
    s = make_stack()
    with pytest.raises(socket.gaierror) as info:
        s.getaddrinfo("web.vdstest.internal", 80)
    assert info.value.errno == socket.EAI_AGAIN
    with pytest.raises(socket.gaierror) as info:
        s.getaddrinfo("web.vdstest.internal", 80, flags=socket.AI_NUMERICHOST)
    assert info.value.errno == socket.EAI_NONAME
    assert s.resolvconf() == "# resolv.conf of a vdestack stack\n"


def test_getaddrinfo_argument_errors(make_stack: Any) -> None:
    s = make_stack()
    with pytest.raises(TypeError):
        s.getaddrinfo(1234, 80)
    with pytest.raises(OSError):
        s.getaddrinfo("127.0.0.1", 1.5)
    s.close()
    with pytest.raises(ValueError):
        s.getaddrinfo("127.0.0.1", 80)


# -- DNS through the stack ------------------------------------------------------------

def test_getaddrinfo_asks_the_stacks_server(link: Any, dnsmasq: Any) -> None:
    _, client = link
    client.config(f"ip={CLIENT_IP}/24,dns={SERVER_IP},domain=vdstest.internal")
    assert client.resolvconf() == ("# resolv.conf of a vdestack stack\n"
                                   "search vdstest.internal\n"
                                   f"nameserver {SERVER_IP}\n")
    got = wait_resolves(client, "web.vdstest.internal")
    assert got == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                    ("10.0.0.1", 80))]
    # the search domain, and the canonical name
    got = client.getaddrinfo("web", "http", socket.AF_INET, socket.SOCK_STREAM,
                             0, socket.AI_CANONNAME)
    assert got[0][3] == "web.vdstest.internal" and got[0][4] == ("10.0.0.1", 80)
    with pytest.raises(socket.gaierror) as info:
        client.getaddrinfo("nosuch.vdstest.internal", 80)
    assert info.value.errno == socket.EAI_NONAME
    assert queries(dnsmasq, "web.vdstest.internal") >= 2
    assert queries(dnsmasq, "nosuch.vdstest.internal") >= 1


def test_commands_see_the_stacks_resolv_conf(link: Any, dnsmasq: Any) -> None:
    server, client = link
    client.config(f"ip={CLIENT_IP}/24,dns={SERVER_IP}")
    wait_resolves(client, "web.vdstest.internal")
    assert client.cmd(f"{BUSYBOX} grep -qx 'nameserver {SERVER_IP}' /etc/resolv.conf") == 0
    assert client.cmd(f"{BUSYBOX} nslookup cmd.vdstest.internal") != 0
    assert queries(dnsmasq, "cmd.vdstest.internal") >= 1
    # a stack without DNS configuration keeps the host's file
    assert server.cmd(f"{BUSYBOX} grep -q 'nameserver {SERVER_IP}' /etc/resolv.conf") == 1


@pytest.mark.forked
def test_urllib_by_name_under_as_default(link: Any, dnsmasq: Any) -> None:
    server, client = link
    client.config(f"ip={CLIENT_IP}/24,dns={SERVER_IP}")
    wait_resolves(client, "web.vdstest.internal")
    with server.as_default():
        httpd = QuietHTTPServer((SERVER_IP, 0), WhoHandler)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    t.start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        before = queries(dnsmasq, "web.vdstest.internal")
        with client.as_default():
            with opener.open(f"http://web.vdstest.internal:{httpd.server_port}/by-name",
                             timeout=10) as resp:
                got = json.loads(resp.read())
            conn = socket.create_connection(("web.vdstest.internal", httpd.server_port), 10)
            assert conn.getpeername() == (SERVER_IP, httpd.server_port)
            conn.close()
        assert got == {"client": CLIENT_IP, "path": "/by-name"}
        assert queries(dnsmasq, "web.vdstest.internal") >= before + 2
        # outside the scope the host's resolver is back (and does not know it)
        assert socket.getaddrinfo("127.0.0.1", 80) == \
            socket.getaddrinfo.__vdestack_original__("127.0.0.1", 80)
    finally:
        httpd.shutdown()
        t.join(10)
        httpd.server_close()


@pytest.mark.forked
def test_default_stack_without_server_never_asks_the_host(make_stack: Any) -> None:
    s = make_stack()
    vdestack.default_stack(s)
    try:
        with pytest.raises(socket.gaierror) as info:
            socket.create_connection(("web.vdstest.internal", 80), 2)
        assert info.value.errno == socket.EAI_AGAIN
    finally:
        vdestack.default_stack(None)


# -- DHCPv4 ------------------------------------------------------------------------

UDHCPD_CONF = """start 10.0.0.100
end 10.0.0.150
interface vde0
lease_file {leases}
option subnet 255.255.255.0
option router 10.0.0.1
option dns 10.0.0.53 10.0.0.54
option domain dhcp.test
option lease {lease}
"""


@pytest.mark.timeout(60)
def test_dhcp_lease_from_udhcpd(link: Any, tmp_path: Any) -> None:
    server, client = link
    leases = tmp_path / "leases"
    leases.write_text("")
    conf = tmp_path / "udhcpd.conf"
    conf.write_text(UDHCPD_CONF.format(leases=leases, lease=8))
    d = Daemon(server, [BUSYBOX, "udhcpd", "-f", str(conf)], "busybox")
    try:
        assert client.lease() is None
        client.config("dhcp,fqdn=pyclient.dhcp.test,timeout=10")
        lease = client.lease("vde0")
        assert isinstance(lease, vdestack.Lease)
        assert isinstance(lease.address, ipaddress.IPv4Interface)
        assert lease.address.network == ipaddress.IPv4Network("10.0.0.0/24")
        assert ipaddress.IPv4Address("10.0.0.100") <= lease.address.ip <= \
            ipaddress.IPv4Address("10.0.0.150")
        assert lease.routers == (ipaddress.IPv4Address("10.0.0.1"),)
        assert lease.dns == (ipaddress.IPv4Address("10.0.0.53"),
                             ipaddress.IPv4Address("10.0.0.54"))
        assert lease.domain == "dhcp.test"
        assert lease.server == ipaddress.IPv4Address("10.0.0.1")
        assert (lease.lease_time, lease.t1) == (8, 4)
        assert client.resolvconf().endswith("search dhcp.test\nnameserver 10.0.0.53\n"
                                            "nameserver 10.0.0.54\n")
        # the address carries traffic: the server sees it
        lsock = server.socket()
        lsock.bind((SERVER_IP, 0))
        lsock.listen()
        csock = client.socket()
        csock.settimeout(5)
        csock.connect(lsock.getsockname())
        conn, peer = lsock.accept()
        assert peer[0] == str(lease.address.ip)
        for s_ in (conn, csock, lsock):
            s_.close()
        # renewal at T1 (4 s)
        time.sleep(5.5)
        renewed = client.lease()
        assert renewed is not None and renewed.renewals >= 1
        assert renewed.obtained > lease.obtained and renewed.address == lease.address
        # release when the stack is closed
        client.close()
        time.sleep(0.3)
        os.kill(d.pid, signal.SIGUSR1)
        time.sleep(0.3)
        import subprocess
        out = subprocess.run([BUSYBOX, "dumpleases", "-f", str(leases)],
                             capture_output=True, text=True).stdout
        line = [x for x in out.splitlines() if str(lease.address.ip) in x]
        assert line and "pyclient" in line[0] and "expired" in line[0], out
    finally:
        d.stop()


@pytest.mark.timeout(30)
def test_dhcp_timeout_without_server(link: Any) -> None:
    _, client = link
    t0 = time.monotonic()
    with pytest.raises(OSError) as info:
        client.config("dhcp,timeout=1")
    assert info.value.errno == errno.ETIMEDOUT
    assert 0.9 < time.monotonic() - t0 < 3
    assert client.lease() is None
