"""local://NAME: the stacks of one process on a network the kernel moves."""

from __future__ import annotations

import os
import time

import pytest

import vdestack
from conftest import (BUSYBOX, EchoServer, child_pids, configure, in_child, open_fds,
                      pid_alive, recv_exactly)


def ping(stack: vdestack.Stack, ip: str) -> int:
    return stack.cmd(f"{BUSYBOX} ping -c 1 -W 2 {ip}")


def echo(client: vdestack.Stack, server: vdestack.Stack, ip: str, data: bytes) -> bytes:
    srv = server.socket()
    srv.bind((ip, 0))
    srv.listen(1)
    es = EchoServer(srv)
    try:
        with client.socket() as c:
            c.settimeout(10)
            c.connect(es.addr)
            c.sendall(data)
            return recv_exactly(c, len(data))
    finally:
        es.close()


@pytest.mark.parametrize("n", [2, 8])
def test_stacks_on_one_local_network(make_stack, n) -> None:
    """n stacks on local://NAME ping each other and exchange TCP bytes."""
    stacks = [make_stack(f"local://py{n}") for _ in range(n)]
    for i, s in enumerate(stacks):
        configure(s, f"10.0.0.{i + 1}")
    for i in range(1, n):
        assert ping(stacks[0], f"10.0.0.{i + 1}") == 0, f"stack 1 pings stack {i + 1}"
    data = os.urandom(1 << 20)
    assert echo(stacks[-1], stacks[0], "10.0.0.1", data) == data
    assert echo(stacks[0], stacks[-1], f"10.0.0.{n}", data[:4096]) == data[:4096]


def test_interface_name(make_stack) -> None:
    """The interface inside the stack has the name asked for."""
    a = make_stack("local://named", "eth5")
    b = make_stack("local://named")
    configure(a, "10.0.0.1", "eth5")
    configure(b, "10.0.0.2")
    assert a.cmd(f"{BUSYBOX} ip link show vde0") != 0
    assert ping(b, "10.0.0.1") == 0


def test_names_are_isolated(make_stack) -> None:
    """Two NAMEs are two networks."""
    red1, red2 = make_stack("local://red"), make_stack("local://red")
    blue = make_stack("local://blue")
    for s, ip in ((red1, "10.0.0.1"), (red2, "10.0.0.2"), (blue, "10.0.0.3")):
        configure(s, ip)
    assert ping(red2, "10.0.0.1") == 0
    assert ping(blue, "10.0.0.1") != 0
    assert ping(blue, "10.0.0.2") != 0
    with blue.socket() as c:
        c.settimeout(1)
        with pytest.raises(OSError):
            c.connect(("10.0.0.1", 7))


def test_bad_names() -> None:
    with pytest.raises(OSError) as e:
        vdestack.Stack("local://")
    assert e.value.errno == 22
    with pytest.raises(OSError):
        vdestack.Stack("local://" + "n" * 256)


def live_children() -> set:
    return {p for p in child_pids() if pid_alive(p)}


def test_gone_with_last_stack() -> None:
    """After its last stack the network is gone (a new one of the same NAME
    is empty) and nothing of ours is left: no fd, no process (once the
    helper's linger after the last stack is over)."""
    deadline = time.monotonic() + 2
    while live_children() and time.monotonic() < deadline:
        time.sleep(0.01)                     # an earlier test's helper lingering
    # what earlier tests of this process still run (a module's switch...)
    # is theirs: this test must add nothing that stays
    before = live_children()
    fds0 = len(open_fds())
    a, b = vdestack.Stack("local://gone"), vdestack.Stack("local://gone")
    configure(a, "10.0.0.1")
    configure(b, "10.0.0.2")
    assert ping(b, "10.0.0.1") == 0
    a.close()
    assert ping(b, "10.0.0.1") != 0           # a is off the network at once
    b.close()
    c = vdestack.Stack("local://gone")
    configure(c, "10.0.0.3")
    assert ping(c, "10.0.0.2") != 0
    c.close()
    deadline = time.monotonic() + 1
    while (live_children() - before or len(open_fds()) != fds0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not live_children() - before
    assert len(open_fds()) == fds0


@pytest.mark.forked
def test_not_shared_with_a_forked_child(make_stack) -> None:
    """A forked child's local://NAME is its own network, not the parent's
    (local:// does not cross processes: a VDE switch does)."""
    a = make_stack("local://fam")
    b = make_stack("local://fam")
    configure(a, "10.0.0.1")
    configure(b, "10.0.0.2")
    assert ping(b, "10.0.0.1") == 0

    def child() -> tuple:
        with vdestack.Stack("local://fam") as c, vdestack.Stack("local://fam") as d:
            configure(c, "10.0.0.3")
            configure(d, "10.0.0.4")
            return ping(c, "10.0.0.1"), ping(c, "10.0.0.4")

    to_parent, to_own = in_child(child)
    assert to_parent != 0, "the child reached the parent's local network"
    assert to_own == 0, "the child's own local network works"
    assert ping(a, "10.0.0.2") == 0


def test_router_between_two_local_networks(make_stack) -> None:
    """A stack on two local networks (a list of VNLs, then add_interface)
    routes between them."""
    left = make_stack("local://left")
    right = make_stack("local://right")
    router = make_stack(["local://left", "local://right"])
    assert router.cmd(f"{BUSYBOX} ip link show vde1") == 0
    third = router.add_interface("local://third")
    assert third == "vde2"
    configure(left, "10.1.0.1")
    configure(right, "10.2.0.1")
    assert router.cmd(f"{BUSYBOX} ip addr add 10.1.0.254/24 dev vde0; "
                      f"{BUSYBOX} ip link set vde0 up; "
                      f"{BUSYBOX} ip addr add 10.2.0.254/24 dev vde1; "
                      f"{BUSYBOX} ip link set vde1 up; "
                      f"{BUSYBOX} sysctl -w net.ipv4.ip_forward=1") == 0
    assert left.cmd(f"{BUSYBOX} ip route add default via 10.1.0.254") == 0
    assert right.cmd(f"{BUSYBOX} ip route add default via 10.2.0.254") == 0
    data = os.urandom(100_000)
    assert echo(left, right, "10.2.0.1", data) == data
