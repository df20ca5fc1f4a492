"""vdestack against real peers that nobody here wrote.

- a stack and a plain kernel network namespace (made here with unshare(1),
  its tap plugged into the switch by vde_plug): ping, busybox httpd + wget,
  iperf3, in both directions;
- two "hosts" (two kernel network namespaces joined by a veth pair, with
  multicast): one process per host, each with a stack, on vxvde:// and on
  udp://, exchange TCP across the hosts;
- servers started with Stack.popen (busybox httpd, iperf3 -s) reached by
  clients started with the ``vdestack run`` command in another stack.

(The original libvdestack is met in tests/c/test_interop.c.)

Root and unprivileged alike: as root the namespaces are plain network
namespaces (``unshare -n``); an unprivileged user cannot make one alone,
so there they come with a user namespace of their own (``unshare -rn``),
which is what a non-root user of ``ip netns``-style tools gets.  Every test
asserts on what crossed: ping replies, HTTP bodies, iperf3's JSON byte
counts, bytes echoed and the peer address seen.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any, List, Optional

import pytest

from conftest import BUSYBOX, configure

VDESTACK_CMD = os.path.join(os.path.dirname(sys.executable), "vdestack")
ROOT = os.geteuid() == 0
IPERF_BYTES = 4 * 1024 * 1024
# iperf3 -n ends when the client has written its bytes: the server's own
# report counts what arrived by then, at least this much
IPERF_SERVER_MIN = 1024 * 1024


class Netns:
    """A kernel network namespace (a ``sleep`` holds it), optionally
    inside the user namespace of ``parent``; ``argv()`` prefixes a
    command with the nsenter(1) that runs it there."""

    def __init__(self, parent: Optional["Netns"] = None) -> None:
        if parent is None:
            argv = ["unshare", "-n"] if ROOT else ["unshare", "-rn"]
        else:
            argv = parent.argv(net=False) + ["unshare", "-n"]
        self.procs: List[subprocess.Popen] = []
        self.holder = subprocess.Popen(argv + ["sleep", "1000"])
        self.pid = self.holder.pid
        me = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.stat(f"/proc/{self.pid}/ns/net").st_ino != me and \
                        os.readlink(f"/proc/{self.pid}/exe").endswith("sleep"):
                    break
            except OSError:
                pass
            time.sleep(0.02)
        else:
            self.close()
            pytest.fail(f"unshare did not make a network namespace: {argv}")
        self.check(["ip", "link", "set", "lo", "up"])

    def argv(self, net: bool = True) -> List[str]:
        a = ["nsenter", "-t", str(self.pid)]
        if not ROOT:
            # we are its root already (unshare -r): no setgroups, no setuid
            a += ["-U", "--preserve-credentials"]
        if net:
            a.append("-n")
        return a + ["--"]

    def run(self, cmd: List[str], **kw: Any) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.argv() + cmd, **kw)

    def check(self, cmd: List[str]) -> str:
        r = self.run(cmd)
        assert r.returncode == 0, f"{cmd}: {r.returncode} {r.stderr}"
        return r.stdout

    def popen(self, cmd: List[str], **kw: Any) -> subprocess.Popen:
        p = subprocess.Popen(self.argv() + cmd, **kw)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs + [self.holder]:
            if p.poll() is None:
                p.kill()
            p.wait()
            for f in (p.stdout, p.stderr):
                if f is not None:
                    f.close()


@pytest.fixture
def netns() -> Any:
    """Factory: netns(parent=None) -> Netns, closed after the test."""
    made: List[Netns] = []

    def make(parent: Optional[Netns] = None) -> Netns:
        ns = Netns(parent)
        made.append(ns)
        return ns

    yield make
    for ns in reversed(made):
        ns.close()


@pytest.fixture
def switch(tmp_path) -> Any:
    """A VDE switch (vde_plug null:// switch://) under tmp_path; its path."""
    sw = tmp_path / "sw"
    p = subprocess.Popen(["vde_plug", "null://", f"switch://{sw}"])

    def listening() -> bool:
        # the ctl socket exists a moment before it listens
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(sw / "ctl"))
                return True
            except OSError:
                return False

    deadline = time.monotonic() + 10
    while not listening() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listening(), "the switch did not start"
    yield sw
    p.kill()
    p.wait()


@pytest.fixture
def www(tmp_path) -> Any:
    """A document root with index.html holding a random token; (dir, token)."""
    d = tmp_path / "www"
    d.mkdir()
    token = "vdestack interop " + secrets.token_hex(16)
    (d / "index.html").write_text(token)
    os.chmod(tmp_path, 0o755)
    return d, token


def retry(fn, what: str, within: float = 20.0) -> Any:
    """fn() until it returns a true value (servers take a moment to start)."""
    deadline = time.monotonic() + within
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            assert result, f"{what}: no success within {within} s ({result!r})"
            return result
        time.sleep(0.2)


def ping_received(out: str) -> int:
    for line in out.splitlines():
        if "packets transmitted" in line:
            return int(line.split(",")[1].split()[0])
    return 0


def wget(runner, url: str) -> Any:
    # (busybox 1.35's wget crashes with SIGSEGV when given -T)
    r = runner(["busybox", "wget", "-q", "-O", "-", url])
    return r.stdout if r.returncode == 0 else None


def iperf_client(runner, server: str, port: int) -> Any:
    r = runner(["iperf3", "-c", server, "-p", str(port), "-n", str(IPERF_BYTES), "-J"])
    if r.returncode != 0:
        return None
    report = json.loads(r.stdout)
    # iperf3 can exit 0 with only an error in its report ("Connection
    # refused": the server was not listening yet): not a run, try again
    if "error" in report or "sum_sent" not in report.get("end", {}):
        return None
    return report


def assert_iperf(report: dict) -> None:
    # the client's own count; what the server counted is checked from its
    # JSON report where the test has it (iperf3 -n ends at the last send)
    end = report["end"]
    assert end["sum_sent"]["bytes"] >= IPERF_BYTES, end["sum_sent"]
    assert end["sum_received"]["bytes"] > 0, end["sum_received"]


# -- a stack and a kernel namespace on one switch ---------------------------------

def test_stack_and_kernel_netns_tap(make_stack, netns, switch, www) -> None:
    """ping, httpd+wget and iperf3 both ways between a stack and a kernel
    network namespace whose tap vde_plug plugs into the same switch."""
    ns = netns()
    ns.popen(["vde_plug", f"vde://{switch}", "tap://vdstap0"])
    retry(lambda: ns.run(["ip", "link", "show", "vdstap0"]).returncode == 0,
          "vde_plug made the tap")
    ns.check(["ip", "addr", "add", "10.80.0.2/24", "dev", "vdstap0"])
    ns.check(["ip", "link", "set", "vdstap0", "up"])
    s = make_stack(f"vde://{switch}")
    configure(s, "10.80.0.1")

    def in_stack(cmd: List[str]) -> subprocess.CompletedProcess:
        return s.run(cmd, capture_output=True, text=True, timeout=60)

    # ping, both ways
    got = retry(lambda: ping_received(in_stack(["ping", "-c", "3", "-i", "0.2", "-W", "2",
                                                "10.80.0.2"]).stdout) == 3 or None,
                "ping from the stack to the namespace")
    assert got
    out = ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.80.0.1"]).stdout
    assert ping_received(out) == 3, out

    # busybox httpd in the stack, wget in the namespace; and the reverse
    docroot, token = www
    httpd = s.popen(["busybox", "httpd", "-f", "-p", "10.80.0.1:8080", "-h", str(docroot)])
    try:
        body = retry(lambda: wget(ns.run, "http://10.80.0.1:8080/index.html"),
                     "wget in the namespace from httpd in the stack")
        assert body == token
    finally:
        httpd.terminate()
        assert httpd.wait(10) == -signal.SIGTERM
    ns.popen(["busybox", "httpd", "-f", "-p", "10.80.0.2:8081", "-h", str(docroot)])
    body = retry(lambda: wget(in_stack, "http://10.80.0.2:8081/index.html"),
                 "wget in the stack from httpd in the namespace")
    assert body == token

    # iperf3 server in the stack, client in the namespace; and the reverse
    server = s.popen(["iperf3", "-s", "-1", "-B", "10.80.0.1", "-p", "5301", "-J"],
                     stdout=subprocess.PIPE, text=True)
    try:
        assert_iperf(retry(lambda: iperf_client(ns.run, "10.80.0.1", 5301),
                           "iperf3 namespace -> stack"))
        out, _ = server.communicate(timeout=30)
        assert server.returncode == 0
        assert json.loads(out)["end"]["sum_received"]["bytes"] >= IPERF_SERVER_MIN
    finally:
        server.kill()
        server.wait()
    ns.popen(["iperf3", "-s", "-1", "-B", "10.80.0.2", "-p", "5302"],
             stdout=subprocess.DEVNULL)
    assert_iperf(retry(lambda: iperf_client(in_stack, "10.80.0.2", 5302),
                       "iperf3 stack -> namespace"))


# -- two hosts ---------------------------------------------------------------------

PEER = textwrap.dedent("""
    import socket, struct, sys, time, vdestack

    def recv_exactly(sock, n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(min(n - len(buf), 65536))
            assert chunk, f"EOF after {len(buf)} of {n} bytes"
            buf += chunk
        return buf

    vnl, ip, role = sys.argv[1], sys.argv[2], sys.argv[3]
    with vdestack.Stack(vnl) as s:
        # room for the encapsulation (vxvde, udp) in the hosts' 1500 bytes
        s.cmd(f"/bin/busybox ip addr add {ip}/24 dev vde0; "
              f"/bin/busybox ip link set vde0 mtu 1400 up")
        if role == "serve":
            lsock = s.socket()
            lsock.bind((ip, 7300))
            lsock.listen(1)
            print("ready", flush=True)
            lsock.settimeout(60)
            conn, addr = lsock.accept()
            conn.settimeout(30)
            n, = struct.unpack("!Q", recv_exactly(conn, 8))
            data = recv_exactly(conn, n)
            # the answer: who sent it, as the server saw it, and the data reversed
            peer = addr[0].encode()
            conn.sendall(struct.pack("!B", len(peer)) + peer + data[::-1])
            # the stack goes when we exit: wait until the client read it all
            assert conn.recv(1) == b""
            conn.close()
            print(f"peer {addr[0]} bytes {n}", flush=True)
        else:
            payload = bytes(range(256)) * 4096
            deadline = time.monotonic() + 30
            while True:
                c = s.socket()
                c.settimeout(2)
                try:
                    c.connect((sys.argv[4], 7300))
                    break
                except OSError:
                    c.close()
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            c.settimeout(30)
            c.sendall(struct.pack("!Q", len(payload)) + payload)
            peer = recv_exactly(c, recv_exactly(c, 1)[0]).decode()
            back = recv_exactly(c, len(payload))
            c.close()
            assert peer == ip, peer
            assert back == payload[::-1], "the reply differs"
            print(f"ok {len(back)}", flush=True)
""")


@pytest.fixture
def two_hosts(netns) -> Any:
    """Two kernel network namespaces joined by a veth pair (192.168.77.1
    and .2), multicast routed on it."""
    a = netns()
    b = netns(parent=a)
    a.check(["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb",
             "netns", str(b.pid)])
    for ns, dev, ip in ((a, "va", "192.168.77.1/24"), (b, "vb", "192.168.77.2/24")):
        ns.check(["ip", "addr", "add", ip, "dev", dev])
        ns.check(["ip", "link", "set", dev, "up", "multicast", "on"])
        ns.check(["ip", "route", "add", "224.0.0.0/4", "dev", dev])
    return a, b


@pytest.mark.parametrize("kind", ["vxvde", "udp"])
def test_two_hosts(two_hosts, tmp_path, kind) -> None:
    """One process per host, each with a stack on the same vxvde group (or
    a udp:// link between the hosts): 1 MiB goes across and comes back
    reversed, with the client's address as the server saw it."""
    a, b = two_hosts
    script = tmp_path / "peer.py"
    script.write_text(PEER)
    os.chmod(tmp_path, 0o755)
    if kind == "vxvde":
        vnl_a = vnl_b = "vxvde://239.77.1.1"
    else:
        vnl_a = "udp://4001->192.168.77.2:4002"
        vnl_b = "udp://4002->192.168.77.1:4001"
    server = a.popen([sys.executable, str(script), vnl_a, "10.82.0.1", "serve"],
                     stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline() == "ready\n"
    client = b.run([sys.executable, str(script), vnl_b, "10.82.0.2", "connect", "10.82.0.1"])
    assert client.returncode == 0, client.stderr
    assert client.stdout == f"ok {256 * 4096}\n"
    out, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert out == f"peer 10.82.0.2 bytes {256 * 4096}\n"


# -- servers in a stack, clients from the vdestack command -----------------------

def vdestack_run(switch, ip: str, program: List[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [VDESTACK_CMD, "run", "--cmd", f"{BUSYBOX} ip addr add {ip}/24 dev vde0; "
         f"{BUSYBOX} ip link set vde0 up", f"vde://{switch}", "--", *program],
        capture_output=True, text=True, timeout=60)


def test_popen_servers_vdestack_run_clients(make_stack, switch, www) -> None:
    """busybox httpd and iperf3 -s started with Stack.popen, reached by
    wget and iperf3 started with ``vdestack run`` in stacks of their own."""
    s = make_stack(f"vde://{switch}")
    configure(s, "10.83.0.1")
    docroot, token = www
    httpd = s.popen(["busybox", "httpd", "-f", "-p", "10.83.0.1:80", "-h", str(docroot)])
    iperf = s.popen(["iperf3", "-s", "-1", "-B", "10.83.0.1", "-J"],
                    stdout=subprocess.PIPE, text=True)
    try:
        def fetch() -> Any:
            r = vdestack_run(switch, "10.83.0.2", ["busybox", "wget", "-q", "-O", "-",
                                                   "http://10.83.0.1/index.html"])
            return r.stdout if r.returncode == 0 else None

        assert retry(fetch, "wget through vdestack run") == token

        def measure() -> Any:
            r = vdestack_run(switch, "10.83.0.3", ["iperf3", "-c", "10.83.0.1",
                                                   "-n", str(IPERF_BYTES), "-J"])
            return json.loads(r.stdout) if r.returncode == 0 else None

        assert_iperf(retry(measure, "iperf3 through vdestack run"))
        out, _ = iperf.communicate(timeout=30)
        assert json.loads(out)["end"]["sum_received"]["bytes"] >= IPERF_SERVER_MIN
        assert httpd.poll() is None
    finally:
        s.close()
        # the servers end with their stack (httpd binds port 80: it had
        # CAP_NET_BIND_SERVICE in the stack)
        assert httpd.wait(5) == -signal.SIGKILL
        iperf.wait(5)
        iperf.stdout.close()


def test_vdestack_run_stream_vnl(make_stack, switch, www) -> None:
    """The multi-host recipe "=ssh host vde_plug vde:///sw", without the
    ssh: ``vdestack run "=vde_plug vde://SW"`` puts a stack on the switch
    through a stream command; wget in it fetches from httpd in another."""
    s = make_stack(f"vde://{switch}")
    configure(s, "10.84.0.1")
    docroot, token = www
    httpd = s.popen(["busybox", "httpd", "-f", "-p", "10.84.0.1:8080", "-h", str(docroot)])
    try:
        def fetch() -> Any:
            r = subprocess.run(
                [VDESTACK_CMD, "run", "--cmd", f"{BUSYBOX} ip addr add 10.84.0.2/24 dev vde0; "
                 f"{BUSYBOX} ip link set vde0 up", f"=vde_plug vde://{switch}", "--",
                 "busybox", "wget", "-q", "-O", "-", "http://10.84.0.1:8080/index.html"],
                capture_output=True, text=True, timeout=60)
            return r.stdout if r.returncode == 0 else None

        assert retry(fetch, "wget through a stream-mode stack") == token
    finally:
        httpd.terminate()
        httpd.wait(10)
